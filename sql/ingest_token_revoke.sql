-- Revokes one ingest token; a token revoked earlier keeps its first revocation time.
UPDATE ingest_tokens
   SET revoked_at = coalesce(revoked_at, now())
 WHERE org_id = %(org_id)s
   AND token_id = %(token_id)s
RETURNING token_id, name, token_prefix, created_at, last_used_at, revoked_at, expires_at,
          replaced_by
