-- Holds a user's row until the transaction ends: a token made while an admin revokes all
-- of that person's tokens (or removes them) waits for it, and is then refused or made.
SELECT user_id
  FROM users
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
   FOR UPDATE
