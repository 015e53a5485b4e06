-- Creates a user of an org; run by `mojule user create` and the admin pages.
INSERT INTO users (org_id, email, role)
VALUES (%(org_id)s, %(email)s, %(role)s)
RETURNING org_id, user_id, email, role, created_at
