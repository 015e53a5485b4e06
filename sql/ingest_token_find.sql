-- Finds an org's token by id or visible prefix for `mojule token revoke` and `rotate`, and
-- holds it until the transaction ends: two rotations of one token, or a rotation and a
-- revocation, then run one after the other, and the second sees what the first did.
SELECT token_id, name, token_prefix, created_at, last_used_at, revoked_at, expires_at,
       replaced_by
  FROM ingest_tokens
 WHERE org_id = %(org_id)s
   AND (token_id = %(token_id)s OR token_prefix = %(token_prefix)s)
   FOR UPDATE
