-- Creates this connection's staging table for log ingest; emptied at every commit.
CREATE TEMPORARY TABLE IF NOT EXISTS log_events_staging (LIKE log_events) ON COMMIT DELETE ROWS
