-- Stores the org's record-id key; a concurrent creator wins and this does nothing, so
-- every worker ends up with the one stored key.
INSERT INTO record_keys (org_id, wrapped_key, master_key_id)
VALUES (%(org_id)s, %(wrapped_key)s, %(master_key_id)s)
ON CONFLICT (org_id) DO NOTHING
