-- For seats named by an account or install id (no email), the email that the org's
-- sessions in [from, to) named beside that id, the latest first: the Users page says whose
-- the id probably is. A hint only: the id stays its own seat in reports, as its sessions'
-- content stays theirs (see analytics_sessions.sql).
SELECT DISTINCT ON (seat.identity) seat.identity, s.user_email
  FROM unnest(%(seats)s::text[]) AS seat (identity)
  JOIN sessions AS s
    ON s.org_id = %(org_id)s
   AND (s.user_account_uuid = seat.identity OR s.user_id = seat.identity)
 WHERE s.first_seen < %(to)s
   AND s.last_seen >= %(from)s
   AND s.user_email IS NOT NULL
   AND s.seat_identity <> seat.identity
 ORDER BY seat.identity, s.last_seen DESC
