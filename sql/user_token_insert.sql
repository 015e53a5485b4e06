-- Stores a new personal access token's digest; the token is shown once and never stored.
-- expires_at NULL: it never expires. reads_content: whether it may read content.
INSERT INTO user_tokens (org_id, user_id, name, token_prefix, token_digest, expires_at,
                         reads_content)
VALUES (%(org_id)s, %(user_id)s, %(name)s, %(token_prefix)s, %(token_digest)s, %(expires_at)s,
        %(reads_content)s)
