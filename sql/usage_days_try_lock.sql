-- Takes the session-level lock on summing one org's days (mojule/usage_days.py) without
-- waiting, before its transaction takes a snapshot; false when another process holds it
-- (an init-db beside a purge), which then sums them alone.
SELECT pg_try_advisory_lock(%(lock)s, %(org_id)s::integer)
