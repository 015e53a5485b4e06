-- Counts each person's usable (neither revoked nor expired) API tokens, for the members page.
SELECT user_id, count(*)
  FROM user_tokens
 WHERE org_id = %(org_id)s
   AND revoked_at IS NULL
   AND (expires_at IS NULL OR expires_at > now())
 GROUP BY user_id
