-- Recomputes the usage_rollup rows of some sessions from the raw rows, each from the
-- quarter hour holding its `since` on, and inserts them where rollup_clear.sql has just
-- deleted the stored ones. Run by mojule/rollup.py at ingest, and by the usage
-- benchmark's generator, after rollup_lock_sessions.sql and rollup_clear.sql.
INSERT INTO usage_rollup
SELECT *
  FROM mojule_usage_rollup_rows(%(org_id)s, %(session_ids)s::text[], %(since)s::timestamptz[])
 ORDER BY session_id, bucket, model
