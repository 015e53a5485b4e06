-- Lists the resource attribute keys (OTEL_RESOURCE_ATTRIBUTES) of an org's sessions active
-- in [from, to), for the overview's "by team" choice: for a member, of their own sessions
-- only (as analytics_sessions.sql picks them), since the keys an org uses are its own.
-- Standard keys are left out.
SELECT DISTINCT a.key
  FROM sessions AS s
 CROSS JOIN LATERAL jsonb_object_keys(s.resource_attributes) AS a (key)
 WHERE s.org_id = %(org_id)s
   AND s.first_seen < %(to)s
   AND s.last_seen >= %(from)s
   AND (%(all_seats)s
        OR s.seat_identity = ANY (%(seat_emails)s::text[])
        OR s.seat_identity = ANY (%(seat_account_uuids)s::text[])
        OR s.seat_identity = ANY (%(seat_user_ids)s::text[]))
   AND a.key NOT LIKE 'service.%%'
   AND a.key NOT LIKE 'os.%%'
   AND a.key NOT LIKE 'host.%%'
   AND a.key NOT LIKE 'user.%%'
   AND a.key NOT LIKE 'wsl.%%'
 ORDER BY a.key
 LIMIT 50
