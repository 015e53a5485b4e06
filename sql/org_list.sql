-- Lists every org, for `mojule org list`.
SELECT org_id, slug, name, retention_days, created_at
  FROM orgs
 ORDER BY slug
