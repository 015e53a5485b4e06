-- Lists a user's personal access tokens, oldest first.
SELECT token_id, user_id, name, token_prefix, created_at, last_used_at, revoked_at, expires_at,
       reads_content
  FROM user_tokens
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
 ORDER BY token_id
