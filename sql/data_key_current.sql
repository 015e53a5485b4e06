-- Finds the org's current (newest, unretired) data key for encrypting new content, with
-- when it was made: past MOJULE_DATA_KEY_DAYS a new one takes over.
SELECT dek_id, wrapped_key, created_at
  FROM data_keys
 WHERE org_id = %(org_id)s
   AND retired_at IS NULL
 ORDER BY dek_id DESC
 LIMIT 1
