-- Retires one data key that has served its period (MOJULE_DATA_KEY_DAYS); run under
-- sql/data_key_lock.sql, just before the next key is made.
UPDATE data_keys
   SET retired_at = now()
 WHERE org_id = %(org_id)s
   AND dek_id = %(dek_id)s
   AND retired_at IS NULL
