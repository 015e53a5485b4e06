-- Sets an org's monthly budget in US dollars, or removes it (NULL).
UPDATE orgs
   SET monthly_budget_usd = %(monthly_budget_usd)s
 WHERE org_id = %(org_id)s
RETURNING org_id, slug, name, retention_days, created_at, monthly_budget_usd
