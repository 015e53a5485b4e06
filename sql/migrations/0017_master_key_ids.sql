-- 0017_master_key_ids.sql: which master keys wrap the stored keys, for /readyz. Applied
-- once by `mojule init-db`; instant.
--
-- A server started with a master key other than the one its keys were wrapped with (a
-- restore with the wrong key, a rotation without MOJULE_MASTER_KEY_PREVIOUS) answered
-- ingest with errors while /readyz called the key fine. data_keys and record_keys are
-- held to row-level security, one org at a time; this function, the owner's, gives the
-- app role the ids of the master keys in use across orgs (a digest's first characters,
-- as crypto.MasterKey names them), and nothing else.
CREATE FUNCTION mojule_master_key_ids() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT master_key_id FROM data_keys
    UNION
    SELECT master_key_id FROM record_keys
$$;
