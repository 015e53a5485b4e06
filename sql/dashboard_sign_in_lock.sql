-- Serialises the sign-in attempts of one email of an org until the transaction ends, so
-- that parallel wrong passwords cannot all pass the throttle's count before any is added.
SELECT pg_advisory_xact_lock(hashtextextended('mojule.sign_in:' || %(org_id)s::text || ':'
                                              || %(email)s, 0))
