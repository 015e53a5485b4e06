-- 0033_analyst_role.sql: a third role, analyst, for platform and developer-productivity
-- leads: they see the whole org's usage, sessions and exports, as admins do, but read no
-- one's content but their own's, and change nothing (no admin pages, no audit trail).
-- Before, seeing the org's cost took the admin role, and with it every prompt. Applied
-- once by `mojule init-db`; the CHECK reads the users table once (a few rows per org).
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'analyst', 'member'));
