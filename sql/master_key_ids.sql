-- The ids of the master keys that wrap the stored data and record keys, across orgs
-- (migration 0017), for /readyz to check the configured keys against.
SELECT DISTINCT id FROM mojule_master_key_ids() AS id
