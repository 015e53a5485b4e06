-- The sessions of the log events ingest just inserted that the usage rollup counts, with
-- the earliest time of each one's; run by mojule/rollup.py in the ingest transaction,
-- while log_events_staging (sql/log_events_stage.sql) still holds the batch.
SELECT session_id, min(time) AS since
  FROM log_events_staging
 WHERE record_id = ANY (%(record_ids)s::bytea[])
   AND session_id IS NOT NULL
   AND event_name IN ('api_request', 'api_error', 'api_retries_exhausted',
                      'tool_result', 'tool_decision')
 GROUP BY session_id
 ORDER BY session_id
