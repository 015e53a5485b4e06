-- 0004_dashboard.sql: dashboard sign-ins (server-side sessions behind the session cookie)
-- and the failed sign-ins that throttle password guessing, shared by every gunicorn worker.

-- A signed-in browser. The cookie holds the org and a random session id; only its digest
-- is stored. Signing out deletes the row, so a copied cookie stops working with it.
-- password_marker is a digest of the user's password hash at sign-in: a new password
-- ends every session signed in with the old one.
CREATE TABLE dashboard_sessions (
    org_id          bigint      NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    session_digest  bytea       NOT NULL,
    user_id         bigint      NOT NULL,
    password_marker bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (org_id, session_digest),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (org_id, expires_at);

-- One row per wrong password (or unknown email) given for an org. Rows older than the
-- throttle window are deleted as new failures come in.
CREATE TABLE sign_in_failures (
    org_id          bigint      NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    email           text        NOT NULL,
    source_ip       text        NOT NULL,
    failed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_email ON sign_in_failures (org_id, email, failed_at);
CREATE INDEX sign_in_failures_time ON sign_in_failures (org_id, failed_at);

ALTER TABLE dashboard_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sign_in_failures   ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON dashboard_sessions USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON sign_in_failures   USING (org_id = mojule_current_org());
ALTER TABLE dashboard_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE sign_in_failures   FORCE ROW LEVEL SECURITY;
