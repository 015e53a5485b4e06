-- Reads a session's seat identity to decide who may read its content.
SELECT session_id, seat_identity
  FROM sessions
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
