-- Lists an org's ingest tokens for `mojule token list` and the admin page, oldest first.
SELECT token_id, name, token_prefix, created_at, last_used_at, revoked_at, expires_at,
       replaced_by
  FROM ingest_tokens
 WHERE org_id = %(org_id)s
 ORDER BY token_id
