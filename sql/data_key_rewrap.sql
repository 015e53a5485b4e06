-- Replaces one data key's wrapping (same key, new master key); content is untouched.
UPDATE data_keys
   SET wrapped_key   = %(wrapped_key)s,
       master_key_id = %(master_key_id)s
 WHERE org_id = %(org_id)s
   AND dek_id = %(dek_id)s
