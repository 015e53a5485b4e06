-- Resolves a presented ingest token (by digest) to its org; run by the auth hook.
SELECT org_id, token_id, revoked_at IS NOT NULL AS revoked
  FROM ingest_tokens
 WHERE token_digest = %(token_digest)s
