-- Lists the active legal holds that keep one session's content: its own, and its seat's.
SELECT h.org_id, h.hold_id, h.session_id, h.seat_identity, h.reason, h.placed_by,
       h.placed_at, h.released_by, h.released_at
  FROM legal_holds AS h
  JOIN sessions AS s
    ON s.org_id = h.org_id
   AND s.session_id = %(session_id)s
 WHERE h.org_id = %(org_id)s
   AND h.released_at IS NULL
   AND (h.session_id = s.session_id OR h.seat_identity = s.seat_identity)
 ORDER BY h.hold_id
