-- Deletes the usage_rollup rows of some sessions from the quarter hour holding each one's
-- `since` on: rollup_refresh.sql then writes them anew. New rows fire only the insert
-- trigger that recomputes the sessions' totals (migration 0006), where overwriting them
-- would fire the update trigger too and recompute each session twice. Run by
-- mojule/rollup.py, after rollup_lock_sessions.sql.
DELETE FROM usage_rollup AS r
 USING unnest(%(session_ids)s::text[], %(since)s::timestamptz[]) AS s (session_id, since)
 WHERE r.org_id = %(org_id)s
   AND r.session_id = s.session_id
   AND r.bucket >= CASE WHEN isfinite(s.since)
                        THEN date_bin('15 minutes', s.since, TIMESTAMPTZ '2000-01-01 00:00:00+00')
                        ELSE s.since END
