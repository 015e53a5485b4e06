-- Releases the lock taken by usage_days_try_lock.sql.
SELECT pg_advisory_unlock(%(lock)s, %(org_id)s::integer)
