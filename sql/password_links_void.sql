-- Ends a person's unused password links, when a new one is made or their password set:
-- only the newest link works, and none outlives the password it was for.
UPDATE password_links
   SET used_at = now()
 WHERE org_id = %(org_id)s
   AND user_id = %(user_id)s
   AND used_at IS NULL
