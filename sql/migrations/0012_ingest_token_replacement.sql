-- 0012_ingest_token_replacement.sql: a rotated ingest token names its replacement, so
-- that it is not rotated a second time. Applied once by `mojule init-db`; instant: the
-- column has no default, and tokens are never deleted but with their org.
--
-- A rotation gives the new token the old one's lifetime (expires_at - created_at) and
-- shortens the old one's to the overlap; rotating the old one again would have given a
-- second replacement the overlap's lifetime, which expires almost at once. Tokens rotated
-- before this release name no replacement and stay rotatable as before.
ALTER TABLE ingest_tokens ADD COLUMN replaced_by bigint;
ALTER TABLE ingest_tokens
    ADD CONSTRAINT ingest_tokens_replaced_by_fkey FOREIGN KEY (org_id, replaced_by)
        REFERENCES ingest_tokens (org_id, token_id);
