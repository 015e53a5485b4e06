-- Settings for the rest of an analytics transaction, run once as it begins by
-- accounting.transaction (the server's pool sets jit off for every request already; the
-- CLI's connections do not):
-- - work_mem: room to hash and sort a large org's sessions in memory (the default 4 MB
--   spills them to disk);
-- - jit off: a usage report is estimated far above jit_above_cost, so a PostgreSQL built
--   with LLVM (Debian's packages are) would compile it afresh on every call; the compiled
--   code is not kept, and a report runs too briefly to win the time back (on PostgreSQL 15,
--   compiling one took 1.6 to 1.9 s; running it, milliseconds to a few hundred).
SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)
