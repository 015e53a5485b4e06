-- Deletes the usage_rollup rows of some sessions from the quarter hour holding each one's
-- `since` on, just before rollup_refresh.sql writes them again: a row written anew fires
-- only the insert trigger that recomputes the session's totals (migration 0006), where an
-- overwritten one would fire the update trigger as well. Run by mojule/rollup.py.
DELETE FROM usage_rollup AS r
 USING unnest(%(session_ids)s::text[], %(since)s::timestamptz[]) AS s (session_id, since)
 WHERE r.org_id = %(org_id)s
   AND r.session_id = s.session_id
   AND r.bucket >= CASE WHEN isfinite(s.since)
                        THEN date_bin('15 minutes', s.since, TIMESTAMPTZ '2000-01-01 00:00:00+00')
                        ELSE s.since END
