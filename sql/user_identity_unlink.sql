-- Unlinks a seat identity from a user: the sessions whose seat it is are no longer theirs.
DELETE FROM user_identities
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
   AND kind = %(kind)s
   AND value = %(value)s
RETURNING kind, value
