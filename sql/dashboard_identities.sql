-- Lists every seat identity linked to an org's users, for the members page.
SELECT user_id, kind, value
  FROM user_identities
 WHERE org_id = %(org_id)s
 ORDER BY user_id, kind, value
