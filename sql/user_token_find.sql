-- Finds one of a user's tokens by id or visible prefix, for revocation, and holds it until
-- the transaction ends: of two revocations at once, the second sees the first.
SELECT token_id, user_id, name, token_prefix, created_at, last_used_at, revoked_at, expires_at,
       reads_content
  FROM user_tokens
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
   AND (token_id = %(token_id)s OR token_prefix = %(token_prefix)s)
   FOR UPDATE
