-- Takes the session-level purge lock without waiting; false when another purge holds it.
SELECT pg_try_advisory_lock(%(lock)s)
