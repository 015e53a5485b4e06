-- Lists an org's data keys with the master key that wraps each, for master-key rotation.
SELECT dek_id, wrapped_key, master_key_id
  FROM data_keys
 WHERE org_id = %(org_id)s
 ORDER BY dek_id
