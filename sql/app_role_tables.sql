-- Lists the tables the app role is granted on: every table of the schema but partitions,
-- which carry no row-level security of their own. Run by `mojule init-db`.
SELECT c.relname
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public'
   AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition
