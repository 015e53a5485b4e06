-- Retires one data key that has served its period, unless another worker did first (it
-- then returns no row, and the caller reads the key that worker made).
UPDATE data_keys
   SET retired_at = now()
 WHERE org_id = %(org_id)s
   AND dek_id = %(dek_id)s
   AND retired_at IS NULL
RETURNING dek_id
