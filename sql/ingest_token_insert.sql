-- Stores a new ingest token's digest; the token itself is shown once and never stored.
-- expires_at NULL: it never expires.
INSERT INTO ingest_tokens (org_id, name, token_prefix, token_digest, expires_at)
VALUES (%(org_id)s, %(name)s, %(token_prefix)s, %(token_digest)s, %(expires_at)s)
RETURNING token_id
