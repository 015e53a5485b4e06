-- Creates this connection's staging table for trace ingest; emptied at every commit.
CREATE TEMPORARY TABLE IF NOT EXISTS spans_staging (LIKE spans) ON COMMIT DELETE ROWS
