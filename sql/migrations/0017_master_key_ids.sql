-- 0017_master_key_ids.sql: which master keys wrap the stored keys, for /readyz. Applied
-- once by `mojule init-db`; instant.
--
-- A server started with a master key other than the one its keys were wrapped with (a
-- restore with the wrong key, a rotation without MOJULE_MASTER_KEY_PREVIOUS) answered
-- ingest with errors while /readyz called the key fine. data_keys and record_keys are
-- held to row-level security one org at a time, their owner included (FORCE): this
-- function, the owner's, reads them org by org, as each org, and gives the app role the
-- ids of the master keys in use (a digest's first characters, as crypto.MasterKey names
-- them), and nothing else. It gives the caller's org back when it returns (a SET clause
-- would, but only a superuser may name this setting in one).
CREATE FUNCTION mojule_master_key_ids() RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public
AS $$
DECLARE
    callers_org text := coalesce(current_setting('mojule.org_id', true), '');
    org bigint;
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        RETURN QUERY SELECT DISTINCT k.master_key_id FROM data_keys AS k
                      UNION
                      SELECT r.master_key_id FROM record_keys AS r;
    END LOOP;
    PERFORM set_config('mojule.org_id', callers_org, true);
END
$$;
