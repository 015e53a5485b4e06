-- 0002_people_audit.sql: people (users, linked seat identities, personal access tokens),
-- the hash-chained audit trail, and row-level security forced on every tenant table.

CREATE TABLE users (
    org_id          bigint      NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    user_id         bigint      GENERATED ALWAYS AS IDENTITY,
    email           text        NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    role            text        NOT NULL CHECK (role IN ('admin', 'member')),
    password_hash   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id),
    UNIQUE (org_id, email)
);

-- Seat identities an admin linked to a user, beyond the email they sign in with: the
-- sessions whose user.account_uuid or user.id matches are theirs too.
CREATE TABLE user_identities (
    org_id          bigint      NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('email', 'account_uuid', 'user_id')),
    value           text        NOT NULL,
    user_id         bigint      NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, kind, value),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX user_identities_user ON user_identities (org_id, user_id);

-- Personal access tokens (mut_...) for the read API; only a digest is stored.
CREATE TABLE user_tokens (
    org_id          bigint      NOT NULL,
    token_id        bigint      GENERATED ALWAYS AS IDENTITY,
    user_id         bigint      NOT NULL,
    name            text        NOT NULL,
    token_prefix    text        NOT NULL,
    token_digest    bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    PRIMARY KEY (org_id, token_id),
    UNIQUE (org_id, token_digest),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX user_tokens_digest ON user_tokens (token_digest);

-- The audit trail: append-only, hash-chained per org (row_hash = SHA-256 over prev_hash
-- and the row's canonical form, computed by mojule/audit.py). Rows outlive content purges
-- and org deletion, so there is no foreign key to orgs. org_id 0 is the installation.
CREATE TABLE audit_log (
    org_id          bigint      NOT NULL,
    audit_id        bigint      GENERATED ALWAYS AS IDENTITY,
    occurred_at     timestamptz NOT NULL,
    actor_type      text        NOT NULL,
    actor_id        text,
    actor_role      text,
    token_id        bigint,
    action          text        NOT NULL,
    target_type     text,
    target_id       text,
    outcome         text        NOT NULL,
    reason          text,
    source_ip       text,
    user_agent      text,
    request_id      text,
    details         jsonb       NOT NULL DEFAULT '{}',
    prev_hash       bytea,
    row_hash        bytea       NOT NULL,
    PRIMARY KEY (org_id, audit_id)
);
CREATE INDEX audit_log_time ON audit_log (org_id, occurred_at);

-- Even the owner cannot rewrite history through normal statements.
CREATE FUNCTION mojule_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION mojule_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION mojule_audit_append_only();

-- A presented token is found by its digest before the org is known: the policies let a
-- transaction see exactly the rows whose digest it names in mojule.token_digest, which
-- only someone holding the token can compute.
CREATE FUNCTION mojule_token_lookup() RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT decode(nullif(current_setting('mojule.token_digest', true), ''), 'hex')
$$;

DROP POLICY org_isolation ON ingest_tokens;
CREATE POLICY org_isolation ON ingest_tokens
    USING (org_id = mojule_current_org() OR token_digest = mojule_token_lookup())
    WITH CHECK (org_id = mojule_current_org());

ALTER TABLE users           ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_tokens     ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log       ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON users           USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON user_identities USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON user_tokens
    USING (org_id = mojule_current_org() OR token_digest = mojule_token_lookup())
    WITH CHECK (org_id = mojule_current_org());
CREATE POLICY org_isolation ON audit_log       USING (org_id = mojule_current_org());

-- Forced: the table owner is held to the policies too; only superusers bypass them.
ALTER TABLE ingest_tokens   FORCE ROW LEVEL SECURITY;
ALTER TABLE data_keys       FORCE ROW LEVEL SECURITY;
ALTER TABLE sessions        FORCE ROW LEVEL SECURITY;
ALTER TABLE log_events      FORCE ROW LEVEL SECURITY;
ALTER TABLE metric_points   FORCE ROW LEVEL SECURITY;
ALTER TABLE spans           FORCE ROW LEVEL SECURITY;
ALTER TABLE content_values  FORCE ROW LEVEL SECURITY;
ALTER TABLE users           FORCE ROW LEVEL SECURITY;
ALTER TABLE user_identities FORCE ROW LEVEL SECURITY;
ALTER TABLE user_tokens     FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_log       FORCE ROW LEVEL SECURITY;

-- Resolves a presented ingest token by digest in one round trip: the org and token it
-- belongs to and whether it is revoked, recording its use at most once per 10 minutes.
-- Runs with the caller's rights; the settings it makes last only for the caller's
-- transaction (one statement, when called in autocommit).
CREATE FUNCTION mojule_resolve_ingest_token(digest bytea)
RETURNS TABLE (org_id bigint, token_id bigint, revoked boolean)
LANGUAGE plpgsql AS $$
DECLARE
    presented record;
BEGIN
    PERFORM set_config('mojule.token_digest', encode(digest, 'hex'), true);
    SELECT t.org_id, t.token_id, t.revoked_at IS NOT NULL AS revoked, t.last_used_at
      INTO presented
      FROM ingest_tokens AS t
     WHERE t.token_digest = digest;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT presented.revoked
       AND (presented.last_used_at IS NULL OR presented.last_used_at < now() - interval '10 minutes') THEN
        PERFORM set_config('mojule.org_id', presented.org_id::text, true);
        UPDATE ingest_tokens AS t
           SET last_used_at = now()
         WHERE t.org_id = presented.org_id
           AND t.token_id = presented.token_id;
    END IF;
    org_id := presented.org_id;
    token_id := presented.token_id;
    revoked := presented.revoked;
    RETURN NEXT;
END;
$$;
