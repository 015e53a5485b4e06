-- Lists the active legal holds that keep any content of one session, or of a seat's
-- sessions: an erasure of that content is refused while one does.
SELECT h.hold_id
  FROM legal_holds AS h
 WHERE h.org_id = %(org_id)s
   AND h.released_at IS NULL
   AND (h.session_id = %(session_id)s
        OR h.seat_identity = %(seat)s
        OR h.seat_identity = (SELECT s.seat_identity
                                FROM sessions AS s
                               WHERE s.org_id = %(org_id)s
                                 AND s.session_id = %(session_id)s)
        OR h.session_id IN (SELECT s.session_id
                              FROM sessions AS s
                             WHERE s.org_id = %(org_id)s
                               AND s.seat_identity = %(seat)s))
 ORDER BY h.hold_id
