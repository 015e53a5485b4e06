-- Where summing days may end (mojule/usage_days.py): today (UTC); and the transactions
-- that other sessions of this database are running now, which it waits for, and their
-- server processes. Any of them may have written to a day before today without noting it
-- (a write to the day it is made in notes nothing); one that begins from now on notes it.
SELECT (now() AT TIME ZONE 'UTC')::date                                  AS summable_before,
       coalesce(array_agg(l.transactionid::text), ARRAY[]::text[])        AS running,
       coalesce(array_agg(DISTINCT l.pid), ARRAY[]::integer[])            AS pids
  FROM pg_locks AS l
  JOIN pg_stat_activity AS a ON a.pid = l.pid
 WHERE l.locktype = 'transactionid'
   AND l.mode = 'ExclusiveLock'
   AND l.granted
   AND a.datname = current_database()
   AND l.pid <> pg_backend_pid()
