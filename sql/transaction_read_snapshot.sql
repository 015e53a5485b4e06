-- Makes the transaction just begun read one snapshot of the database in all of its
-- statements, and write nothing: a report made of several statements (a session's totals,
-- tools and timeline; the Admin-API-shaped report's three groupings) must not see an
-- ingest commit between them; nor the pages of a sessions export. Run first by
-- mojule/db.py org_transaction when asked, and by mojule/exports.py session_rows.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY
