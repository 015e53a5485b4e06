-- Gives the rest of an analytics transaction room to hash and sort a large org's sessions
-- in memory (the default 4 MB spills them to disk); run by mojule/accounting.py.
SET LOCAL work_mem = '64MB'
