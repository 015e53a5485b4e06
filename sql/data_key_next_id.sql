-- Picks the id for an org's next data key.
SELECT coalesce(max(dek_id), 0) + 1
  FROM data_keys
 WHERE org_id = %(org_id)s
