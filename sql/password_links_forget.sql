-- Forgets an org's password links that were used, ended or expired over a day ago (the
-- audit trail keeps what they did), as each new link is made: the table holds only what
-- may still matter.
DELETE FROM password_links
 WHERE org_id = %(org_id)s
   AND least(used_at, expires_at) < now() - interval '1 day'
