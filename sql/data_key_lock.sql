-- Serializes the changes of an org's data keys (a new org's first key, a period's end,
-- `mojule keys rotate`) until the transaction ends: each then sees the key the one before
-- it made, and no key is left current beside a newer one, never to be retired.
SELECT pg_advisory_xact_lock(hashtextextended('mojule.data_keys:' || %(org_id)s::text, 0))
