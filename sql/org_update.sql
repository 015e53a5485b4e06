-- Changes an org's name and/or content window (NULL keeps the current value).
UPDATE orgs
   SET name           = coalesce(%(name)s, name),
       retention_days = coalesce(%(retention_days)s, retention_days)
 WHERE org_id = %(org_id)s
RETURNING org_id, slug, name, retention_days, created_at, monthly_budget_usd
