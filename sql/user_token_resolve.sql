-- Resolves a presented personal access token (by digest) to its org and user.
SELECT org_id, token_id, user_id, revoked_at IS NOT NULL AS revoked
  FROM user_tokens
 WHERE token_digest = %(token_digest)s
