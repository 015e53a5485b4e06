-- Finds the user a dashboard session cookie belongs to, for the auth hook: the session is
-- unexpired and the user's password has not changed since it was signed in.
SELECT u.user_id, u.email, u.role
  FROM dashboard_sessions AS s
  JOIN users AS u
    ON u.org_id = s.org_id
   AND u.user_id = s.user_id
 WHERE s.org_id = %(org_id)s
   AND s.session_digest = %(session_digest)s
   AND s.expires_at > now()
   AND s.password_marker = sha256(convert_to(coalesce(u.password_hash, ''), 'UTF8'))
