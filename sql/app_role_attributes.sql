-- Whether the role the server connects as exists, and whether it could get past row-level
-- security (superuser, BYPASSRLS, CREATEROLE, or a member of the connecting owner, as whom
-- it could turn security off) or could not connect. Run by `mojule init-db`.
SELECT rolsuper, rolbypassrls, rolcreaterole,
       pg_has_role(oid, current_user, 'MEMBER') AS acts_as_owner,
       rolcanlogin
  FROM pg_roles
 WHERE rolname = %s
