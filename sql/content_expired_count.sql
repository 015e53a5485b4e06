-- Counts an org's content older than its cutoff that the purge would remove: none that
-- an active legal hold keeps, as content_expired_delete.sql (`mojule purge --dry-run`).
SELECT count(*)
  FROM content_values AS c
 WHERE c.org_id = %(org_id)s
   AND c.time < %(cutoff)s
   AND NOT EXISTS (SELECT 1
                     FROM mojule_held_sessions(%(org_id)s) AS held
                    WHERE held.session_id = c.session_id)
   AND (c.session_id IS NOT NULL
        OR NOT EXISTS (SELECT 1
                         FROM legal_holds AS h
                        WHERE h.org_id = %(org_id)s
                          AND h.released_at IS NULL
                          AND h.seat_identity IS NOT NULL))
