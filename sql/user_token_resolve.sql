-- Resolves a presented personal access token (by digest) to its org and user, whether it
-- is still usable, and whether it may read content.
SELECT org_id, token_id, user_id, revoked_at IS NOT NULL AS revoked,
       coalesce(expires_at <= now(), false) AS expired, reads_content
  FROM user_tokens
 WHERE token_digest = %(token_digest)s
