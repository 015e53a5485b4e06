-- Finds the org's current (newest, unretired) data key for encrypting new content.
SELECT dek_id, wrapped_key
  FROM data_keys
 WHERE org_id = %(org_id)s
   AND retired_at IS NULL
 ORDER BY dek_id DESC
 LIMIT 1
