-- Lists the sessions among some (the batch's unattributed ones) that got api_request events
-- in the log events ingest just inserted: their seat's named sessions may now take cost
-- from events (sql/sessions_flag_metrics_only.sql). Run by mojule/rollup.py in the ingest
-- transaction; a session another rule flagged already is listed too.
-- record_ids NULL: every staged row was new (the common case), and none is looked up.
SELECT DISTINCT session_id
  FROM log_events_staging
 WHERE (%(record_ids)s::bytea[] IS NULL OR record_id = ANY (%(record_ids)s::bytea[]))
   AND event_name = 'api_request'
   AND session_id = ANY (%(session_ids)s::text[])
