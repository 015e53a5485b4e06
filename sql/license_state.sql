-- The ingestion state the license policy last recorded: what senders are getting. Read by
-- the dashboard's banner and license page.
SELECT paused,
       reason,
       changed_at
  FROM ingest_state
