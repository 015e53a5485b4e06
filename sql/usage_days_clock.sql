-- Where summing days may end (mojule/usage_days.py): today (UTC), and a transaction id
-- given out now (this statement's own), so that every transaction that wrote to a day
-- before today has a lower one.
SELECT (now() AT TIME ZONE 'UTC')::date  AS summable_before,
       pg_current_xact_id()::text        AS next_xact
