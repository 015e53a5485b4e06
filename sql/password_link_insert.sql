-- Stores a new password link's digest; the link is shown once and never stored.
INSERT INTO password_links (org_id, user_id, link_digest, expires_at)
VALUES (%(org_id)s, %(user_id)s, %(link_digest)s, %(expires_at)s)
