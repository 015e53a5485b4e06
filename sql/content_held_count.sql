-- Counts an org's content older than its cutoff that active legal holds keep from the
-- purge, as content_expired_delete.sql decides: the purge reports it.
SELECT count(*)
  FROM content_values AS c
 WHERE c.org_id = %(org_id)s
   AND c.time < %(cutoff)s
   AND (EXISTS (SELECT 1
                  FROM mojule_held_sessions(%(org_id)s) AS held
                 WHERE held.session_id = c.session_id)
        OR (c.session_id IS NULL
            AND EXISTS (SELECT 1
                          FROM legal_holds AS h
                         WHERE h.org_id = %(org_id)s
                           AND h.released_at IS NULL
                           AND h.seat_identity IS NOT NULL)))
