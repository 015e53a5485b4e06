-- Deletes the session_usage rows of those of some sessions that rollup_refresh.sql left
-- with no usage_rollup rows at all. Its insert trigger (migration 0006) recomputes only
-- the sessions it wrote rows for, so the totals of a session whose every counted record
-- was since dropped (migration 0027) would outlive them; the delete notes the session's
-- days for re-summing (migration 0021). Run by mojule/rollup.py, recount_pending, after
-- rollup_refresh.sql.
DELETE FROM session_usage AS u
 WHERE u.org_id = %(org_id)s
   AND u.session_id = ANY (%(session_ids)s::text[])
   AND NOT EXISTS (SELECT 1
                     FROM usage_rollup AS r
                    WHERE r.org_id = u.org_id
                      AND r.session_id = u.session_id)
