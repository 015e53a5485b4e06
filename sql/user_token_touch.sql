-- Records a personal token's last use, at most once per 10 minutes.
UPDATE user_tokens
   SET last_used_at = now()
 WHERE org_id = %(org_id)s
   AND token_id = %(token_id)s
   AND (last_used_at IS NULL OR last_used_at < now() - interval '10 minutes')
