-- Creates this connection's staging table for metric ingest; emptied at every commit.
CREATE TEMPORARY TABLE IF NOT EXISTS metric_points_staging (LIKE metric_points) ON COMMIT DELETE ROWS
