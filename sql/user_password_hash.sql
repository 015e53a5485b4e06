-- Reads a user's password hash for dashboard sign-in.
SELECT user_id, password_hash
  FROM users
 WHERE org_id = %(org_id)s
   AND email = %(email)s
