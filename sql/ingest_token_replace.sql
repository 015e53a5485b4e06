-- Rotates one ingest token (`mojule token rotate`): names its replacement and makes it
-- expire at %(expires_at)s, when the overlap ends, or keeps its own expiry when that comes
-- sooner.
UPDATE ingest_tokens
   SET expires_at = least(coalesce(expires_at, 'infinity'), %(expires_at)s),
       replaced_by = %(replaced_by)s
 WHERE org_id = %(org_id)s
   AND token_id = %(token_id)s
RETURNING token_id, name, token_prefix, created_at, last_used_at, revoked_at, expires_at,
          replaced_by
