-- Finds an org's user by id, with what people.User holds: the person a password link names.
SELECT org_id, user_id, email, role, created_at
  FROM users
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
