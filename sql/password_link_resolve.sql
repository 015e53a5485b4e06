-- Finds a presented password link (by digest) that is unused and unexpired, with its org
-- and person, and holds it until the transaction ends: of two uses at once, one wins.
SELECT org_id, user_id
  FROM password_links
 WHERE link_digest = %(link_digest)s
   AND used_at IS NULL
   AND expires_at > now()
   FOR UPDATE
