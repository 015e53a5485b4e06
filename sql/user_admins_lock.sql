-- The org's admins, held until the transaction ends: an admin's change to people (a
-- removal, a role) is made only while they are still an admin, and two admins removing
-- or demoting each other at once cannot leave the org with none.
SELECT user_id
  FROM users
 WHERE org_id = %(org_id)s
   AND role = 'admin'
 ORDER BY user_id
   FOR UPDATE
