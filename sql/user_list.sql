-- Lists an org's users for `mojule user list` and the members page.
SELECT org_id, user_id, email, role, created_at
  FROM users
 WHERE org_id = %(org_id)s
 ORDER BY email
