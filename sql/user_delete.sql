-- Deletes a user; their tokens and linked identities go with them (foreign keys cascade).
DELETE FROM users
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
