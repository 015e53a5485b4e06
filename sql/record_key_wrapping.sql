-- Reads the org's record-id key with the master key that wraps it, for master-key rotation.
SELECT wrapped_key, master_key_id
  FROM record_keys
 WHERE org_id = %(org_id)s
