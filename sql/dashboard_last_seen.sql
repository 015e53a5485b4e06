-- The latest time any of the viewer's sessions (an admin: the org's) was seen, for the
-- Connect page's "Last telemetry" line: exact at once, where an ingest token's last use
-- is written at most every 10 minutes (migration 0010). Seats as analytics_sessions.sql
-- picks a member's.
SELECT max(s.last_seen)
  FROM sessions AS s
 WHERE s.org_id = %(org_id)s
   AND (%(all_seats)s
        OR s.seat_identity = ANY (%(seat_emails)s::text[])
        OR s.seat_identity = ANY (%(seat_account_uuids)s::text[])
        OR s.seat_identity = ANY (%(seat_user_ids)s::text[]))
