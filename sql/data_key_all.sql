-- Reads all of an org's wrapped data keys, retired ones included, to decrypt content.
SELECT dek_id, wrapped_key
  FROM data_keys
 WHERE org_id = %(org_id)s
 ORDER BY dek_id
