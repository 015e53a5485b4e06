-- 0029_password_links.sql: one-time links with which a person sets their own dashboard
-- password (an admin makes one on the Members page for a new member, or one who forgot
-- theirs), so that no admin types, knows or sends anyone's password. Only a digest of
-- the link's secret is stored; a link works once, until it expires. Applied once by
-- `mojule init-db`; instant: the table is new.
CREATE TABLE password_links (
    org_id          bigint      NOT NULL,
    link_id         bigint      GENERATED ALWAYS AS IDENTITY,
    user_id         bigint      NOT NULL,
    link_digest     bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    PRIMARY KEY (org_id, link_id),
    UNIQUE (org_id, link_digest),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX password_links_digest ON password_links (link_digest);
CREATE INDEX password_links_user ON password_links (org_id, user_id);

-- As user_tokens: a presented link is found by its digest before its org is known.
ALTER TABLE password_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON password_links
    USING (org_id = mojule_current_org() OR link_digest = mojule_token_lookup())
    WITH CHECK (org_id = mojule_current_org());
ALTER TABLE password_links FORCE ROW LEVEL SECURITY;
