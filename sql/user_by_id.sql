-- Reads the email and role of the user a token belongs to, for the auth hook.
SELECT email, role
  FROM users
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
