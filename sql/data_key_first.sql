-- Finds the org's first data key, retired or not: it keys the org's record identities
-- (crypto.RecordKey) for good, so it is never deleted while the org exists.
SELECT dek_id, wrapped_key
  FROM data_keys
 WHERE org_id = %(org_id)s
 ORDER BY dek_id
 LIMIT 1
