-- Destroys an org's data keys, making all its content unreadable (crypto-shredding);
-- the first step of `mojule org delete`.
DELETE FROM data_keys
 WHERE org_id = %(org_id)s
