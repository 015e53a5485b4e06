-- How far an org's days are summed in usage_days (migration 0021); the first day its
-- sessions could begin and end in (the day of its earliest session end); and whether this
-- transaction's snapshot sees every transaction up to `next_xact` as ended (the oldest
-- still running is later; sql/usage_days_clock.sql), which summing waits for.
SELECT (SELECT b.built_through
          FROM usage_days_built AS b
         WHERE b.org_id = %(org_id)s)                                  AS built_through,
       (SELECT (min(u.last_bucket) AT TIME ZONE 'UTC')::date
          FROM session_usage AS u
         WHERE u.org_id = %(org_id)s
           AND NOT u.per_model)                                        AS first_day,
       pg_snapshot_xmin(pg_current_snapshot()) > %(next_xact)s::xid8   AS settled
