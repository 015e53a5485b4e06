-- Revokes one personal access token; an earlier revocation time is kept.
UPDATE user_tokens
   SET revoked_at = coalesce(revoked_at, now())
 WHERE org_id = %(org_id)s
   AND token_id = %(token_id)s
RETURNING token_id, user_id, name, token_prefix, created_at, last_used_at, revoked_at, expires_at,
          reads_content
