-- Reads the org's wrapped record-id key (migration 0011).
SELECT wrapped_key
  FROM record_keys
 WHERE org_id = %(org_id)s
