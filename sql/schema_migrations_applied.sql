-- Lists the migration versions already applied, for `mojule init-db` and /readyz.
SELECT version
  FROM schema_migrations
 ORDER BY version
