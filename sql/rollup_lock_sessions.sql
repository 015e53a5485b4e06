-- Locks the sessions whose usage_rollup rows are about to be recomputed, in session order,
-- until the transaction ends. Two transactions adding rows to one session then recompute
-- one after the other, and the second (a new statement, so a new snapshot) sees the
-- first's rows: without the lock each would write figures missing the other's rows. In
-- code point order (COLLATE "C"), the order of Python's sorted() in which ingest upserts
-- and so locks its sessions, whatever the database's collation: two orders could deadlock.
SELECT session_id
  FROM sessions
 WHERE org_id = %(org_id)s
   AND session_id = ANY (%(session_ids)s::text[])
 ORDER BY session_id COLLATE "C"
   FOR UPDATE
