-- Lists every org with its content window, for the retention purge.
SELECT org_id, slug, retention_days
  FROM orgs
 ORDER BY org_id
