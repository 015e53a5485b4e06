-- The sessions of some seats active in [from, to) (with `seatless`, also those without a
-- seat), for one page of the usage report in the shape of Anthropic's Admin API
-- (mojule/usage_report.py): its groupings by model and by tool, the latter read from the
-- raw rows, need only the page's sessions. The same sessions as analytics_sessions.sql
-- finds for the window, of those seats.
SELECT session_id
  FROM sessions
 WHERE org_id = %(org_id)s
   AND first_seen < %(to)s
   AND last_seen >= %(from)s
   AND (seat_identity = ANY (%(seats)s::text[])
        OR (%(seatless)s AND seat_identity IS NULL))
