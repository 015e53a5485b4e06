-- Serialises appends to one org's audit chain so it never forks.
SELECT pg_advisory_xact_lock(hashtextextended('mojule.audit:' || %(org_id)s::text, 0))
