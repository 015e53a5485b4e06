-- Retires an org's current data keys: they keep decrypting, new content gets a new key.
UPDATE data_keys
   SET retired_at = now()
 WHERE org_id = %(org_id)s
   AND retired_at IS NULL
