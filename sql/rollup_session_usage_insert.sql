-- Writes the session_usage rows of some sessions, computed from their usage_rollup rows
-- (migration 0006). Run by mojule/rollup.py after rollup_session_usage_delete.sql.
INSERT INTO session_usage
SELECT *
  FROM mojule_session_usage_rows(%(org_id)s, %(session_ids)s::text[])
 ORDER BY session_id, per_model, model
