-- Counts the sessions a legal hold keeps now: its session, or its seat's sessions so far.
SELECT count(*)
  FROM legal_holds AS h
  JOIN sessions AS s
    ON s.org_id = h.org_id
   AND (s.session_id = h.session_id OR s.seat_identity = h.seat_identity)
 WHERE h.org_id = %(org_id)s
   AND h.hold_id = %(hold_id)s
