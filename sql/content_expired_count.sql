-- Counts an org's content older than its cutoff (`mojule purge --dry-run`).
SELECT count(*)
  FROM content_values
 WHERE org_id = %(org_id)s
   AND time < %(cutoff)s
