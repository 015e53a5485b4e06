-- Removes the session_usage rows of some sessions before rollup_session_usage_insert.sql
-- writes them again: a row can disappear, as when a session's first api_request makes its
-- cost metrics stop counting. Run by mojule/rollup.py after rollup_refresh.sql.
DELETE FROM session_usage
 WHERE org_id = %(org_id)s
   AND session_id = ANY (%(session_ids)s::text[])
