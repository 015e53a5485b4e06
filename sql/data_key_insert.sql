-- Stores a new wrapped data key; a concurrent creator of the same id wins and this does nothing.
INSERT INTO data_keys (org_id, dek_id, wrapped_key, master_key_id)
VALUES (%(org_id)s, %(dek_id)s, %(wrapped_key)s, %(master_key_id)s)
ON CONFLICT (org_id, dek_id) DO NOTHING
