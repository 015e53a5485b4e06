-- Lists the seat identities linked to a user.
SELECT kind, value
  FROM user_identities
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
 ORDER BY kind, value
