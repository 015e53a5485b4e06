-- Lifts the manual pause, if there is one; `mojule ingest resume`.
DELETE FROM ingest_pause
RETURNING reason
