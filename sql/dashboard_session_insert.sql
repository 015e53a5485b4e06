-- Records a dashboard sign-in (mojule/dashboard/logins.py). The password marker is taken
-- from the user's row, so a later password change ends the session.
INSERT INTO dashboard_sessions (org_id, session_digest, user_id, password_marker, expires_at)
SELECT org_id, %(session_digest)s, user_id,
       sha256(convert_to(coalesce(password_hash, ''), 'UTF8')),
       now() + make_interval(secs => %(lifetime_s)s)
  FROM users
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
