-- Releases the purge lock taken by purge_try_lock.
SELECT pg_advisory_unlock(%(lock)s)
