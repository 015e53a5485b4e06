-- Changes a user's role (admin or member).
UPDATE users
   SET role = %(role)s
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
