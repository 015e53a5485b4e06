-- Marks the sessions that sent an api_request among the log events ingest just inserted:
-- from now on their cost and tokens come from events. Run by mojule/rollup.py in the
-- ingest transaction, after the sessions were upserted; returns their seats, whose
-- unattributed sessions may now take cost and tokens from events too
-- (sql/sessions_flag_unattributed.sql).
-- record_ids NULL: every staged row was new (the common case), and none is looked up.
UPDATE sessions
   SET has_api_requests = true
 WHERE org_id = %(org_id)s
   AND NOT has_api_requests
   AND session_id IN (SELECT session_id
                        FROM log_events_staging
                       WHERE (%(record_ids)s::bytea[] IS NULL OR record_id = ANY (%(record_ids)s::bytea[]))
                         AND event_name = 'api_request')
RETURNING seat_identity
