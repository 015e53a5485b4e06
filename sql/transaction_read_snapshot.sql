-- Makes the transaction just begun read one snapshot of the database in all of its
-- statements, and write nothing: a report made of several statements (a session's totals,
-- tools and timeline; the Admin-API-shaped report's three groupings) must not see an
-- ingest commit between them. Run first by mojule/db.py org_transaction when asked.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY
