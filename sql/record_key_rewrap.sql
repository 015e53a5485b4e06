-- Stores the org's record-id key re-wrapped under the new master key.
UPDATE record_keys
   SET wrapped_key = %(wrapped_key)s, master_key_id = %(master_key_id)s
 WHERE org_id = %(org_id)s
