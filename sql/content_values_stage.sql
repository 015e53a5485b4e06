-- Creates this connection's staging table for encrypted content; emptied at every commit.
CREATE TEMPORARY TABLE IF NOT EXISTS content_values_staging (LIKE content_values) ON COMMIT DELETE ROWS
