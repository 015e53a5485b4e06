-- Resolves a presented personal access token (by digest) to its org and user, and whether
-- it is still usable.
SELECT org_id, token_id, user_id, revoked_at IS NOT NULL AS revoked,
       coalesce(expires_at <= now(), false) AS expired
  FROM user_tokens
 WHERE token_digest = %(token_digest)s
