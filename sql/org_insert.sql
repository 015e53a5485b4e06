-- Creates an org; run by `mojule org create`. A new org has no monthly budget (the Org's
-- default), so this names only the columns every schema since 0001 has: the upgrade
-- tests make orgs in databases of earlier releases.
INSERT INTO orgs (slug, name, retention_days)
VALUES (%(slug)s, %(name)s, %(retention_days)s)
RETURNING org_id, slug, name, retention_days, created_at
