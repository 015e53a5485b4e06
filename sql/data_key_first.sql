-- Finds the org's first data key: for an org from before migration 0011, its record-id
-- key is the one this key gave (crypto.RecordKey.from_first_data_key).
SELECT dek_id, wrapped_key
  FROM data_keys
 WHERE org_id = %(org_id)s
 ORDER BY dek_id
 LIMIT 1
