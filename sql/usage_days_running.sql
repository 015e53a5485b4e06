-- How many of the transactions sql/usage_days_clock.sql found running still are (each
-- holds the lock on its own id until it ends).
SELECT count(*)
  FROM pg_locks AS l
 WHERE l.locktype = 'transactionid'
   AND l.mode = 'ExclusiveLock'
   AND l.granted
   AND l.transactionid::text = ANY (%(running)s::text[])
