-- 0016_seat_rank.sql: how specific the seat stored for a session is, so that ingest
-- takes a more specific one when a later record brings it (sql/session_upsert.sql): an
-- email where only an account or an install id was known, as when Claude Desktop leaves
-- user.email off some of a session's records. Applied once by `mojule init-db`; instant.
--
-- The ranks are the places of the seat's key in mojule/usage.py SEAT_KEYS: user.email 0,
-- user.account_uuid 1, user.account_id 2, enduser.id 3, user.id 4, none 5. The two keys
-- without a column of their own (user.account_id, enduser.id) rank 2: an email or an
-- account uuid takes over from them, an install id does not. A simple IMMUTABLE SQL
-- function: the planner inlines it.
CREATE FUNCTION mojule_seat_rank(seat_identity text, user_email text,
                                 user_account_uuid text, user_id text)
RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE
           WHEN seat_identity IS NULL THEN 5
           WHEN seat_identity = lower(user_email) THEN 0
           WHEN seat_identity = user_account_uuid THEN 1
           WHEN seat_identity = user_id THEN 4
           ELSE 2
       END
$$;
