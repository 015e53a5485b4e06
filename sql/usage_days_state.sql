-- How far an org's days are summed in usage_days (migration 0021), and the first day its
-- sessions could begin and end in (the day of its earliest session end).
SELECT (SELECT b.built_through
          FROM usage_days_built AS b
         WHERE b.org_id = %(org_id)s)                                  AS built_through,
       (SELECT (min(u.last_bucket) AT TIME ZONE 'UTC')::date
          FROM session_usage AS u
         WHERE u.org_id = %(org_id)s
           AND NOT u.per_model)                                        AS first_day
