-- Whether the role the server connects as exists, and whether it could get past row-level
-- security (superuser, BYPASSRLS) or could not connect. Run by `mojule init-db`.
SELECT rolsuper, rolbypassrls, rolcanlogin
  FROM pg_roles
 WHERE rolname = %s
