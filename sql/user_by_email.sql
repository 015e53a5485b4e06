-- Finds an org's user by (lower-cased) email.
SELECT org_id, user_id, email, role, created_at
  FROM users
 WHERE org_id = %(org_id)s
   AND email = %(email)s
