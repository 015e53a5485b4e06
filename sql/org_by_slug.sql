-- Finds an org by its slug; used by every CLI command that takes --org.
SELECT org_id, slug, name, retention_days, created_at, monthly_budget_usd
  FROM orgs
 WHERE slug = %(slug)s
