-- Lists every org, for `mojule org list`.
SELECT org_id, slug, name, retention_days, created_at, monthly_budget_usd
  FROM orgs
 ORDER BY slug
