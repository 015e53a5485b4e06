-- Finds an org by id (a password link names its person's org by id).
SELECT org_id, slug, name, retention_days, created_at, monthly_budget_usd
  FROM orgs
 WHERE org_id = %(org_id)s
