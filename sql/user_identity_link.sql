-- Links a seat identity (account_uuid, user_id or email) to a user; relinking moves it.
INSERT INTO user_identities (org_id, kind, value, user_id)
VALUES (%(org_id)s, %(kind)s, %(value)s, %(user_id)s)
    ON CONFLICT (org_id, kind, value) DO UPDATE
   SET user_id = excluded.user_id
