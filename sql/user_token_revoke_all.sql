-- Revokes every usable personal access token of a user (offboarding, a leaked laptop);
-- returns those it revoked. Revoked and expired tokens keep their state.
UPDATE user_tokens
   SET revoked_at = now()
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
   AND revoked_at IS NULL
   AND (expires_at IS NULL OR expires_at > now())
RETURNING token_id, user_id, name, token_prefix, created_at, last_used_at, revoked_at, expires_at,
          reads_content
