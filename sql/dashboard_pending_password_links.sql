-- Until when each person's password link works (unused, unexpired), for the members page:
-- a link made is shown, so that admins see it and can end it.
SELECT user_id, max(expires_at)
  FROM password_links
 WHERE org_id = %(org_id)s
   AND used_at IS NULL
   AND expires_at > now()
 GROUP BY user_id
