-- Reads the hash of the org's newest audit row, which the next row chains to.
SELECT row_hash
  FROM audit_log
 WHERE org_id = %(org_id)s
 ORDER BY audit_id DESC
 LIMIT 1
