-- Creates an org; run by `mojule org create`.
INSERT INTO orgs (slug, name, retention_days)
VALUES (%(slug)s, %(name)s, %(retention_days)s)
RETURNING org_id, slug, name, retention_days, created_at
