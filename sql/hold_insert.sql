-- Places a legal hold on a session's content or a seat's (exactly one is given).
INSERT INTO legal_holds (org_id, session_id, seat_identity, reason, placed_by)
VALUES (%(org_id)s, %(session_id)s, %(seat_identity)s, %(reason)s, %(placed_by)s)
RETURNING org_id, hold_id, session_id, seat_identity, reason, placed_by, placed_at,
          released_by, released_at
