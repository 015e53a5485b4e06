-- Stores the argon2id hash of a user's dashboard password.
UPDATE users
   SET password_hash = %(password_hash)s
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
