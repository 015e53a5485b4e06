-- 0018_sign_in_failures_of_unknown_orgs.sql: failed sign-ins to an org that does not exist
-- are counted too, so that they lock as a real org's do. Applied once by `mojule init-db`;
-- instant.
--
-- A sign-in to a made-up org was refused (401) however often it was tried, where a real
-- org's email locked after five failures (429): the difference told which orgs exist.
-- Failures for unknown orgs are kept under org 0, the installation's id in the audit
-- trail, which no orgs row holds: hence no foreign key. `mojule org delete` removes an
-- org's own failures with its other rows (mojule/orgs.py, ORG_TABLES).
ALTER TABLE sign_in_failures DROP CONSTRAINT IF EXISTS sign_in_failures_org_id_fkey;
