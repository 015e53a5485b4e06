-- Lists an org's legal holds, the active ones first, newest first within each, with how
-- many sessions each keeps now (a held seat's sessions so far).
SELECT h.org_id, h.hold_id, h.session_id, h.seat_identity, h.reason, h.placed_by,
       h.placed_at, h.released_by, h.released_at,
       (SELECT count(*)
          FROM sessions AS s
         WHERE s.org_id = h.org_id
           AND (s.session_id = h.session_id OR s.seat_identity = h.seat_identity)) AS sessions
  FROM legal_holds AS h
 WHERE h.org_id = %(org_id)s
   AND (%(active_only)s = false OR h.released_at IS NULL)
 ORDER BY h.released_at IS NOT NULL, h.placed_at DESC, h.hold_id DESC
