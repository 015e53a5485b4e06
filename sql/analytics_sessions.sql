-- Finds an org's sessions active in [from, to): the scope of a report in
-- analytics_usage.sql, and, paged by analytics_sessions_page.sql, the session list and
-- session detail of mojule/analytics.py. Keyset paging: only sessions after the cursor's
-- (last_seen, session_id). The model filter matches model names with a trailing [...]
-- suffix removed; the attributes filter ({"team": "payments", ...}) keeps the sessions
-- whose resource attributes hold every one of its values, read as group_by=attr:<key>
-- reads them (->>).
SELECT s.session_id, s.seat_identity, s.user_email, s.user_account_uuid, s.user_id,
       s.organization_uuid, s.first_seen, s.last_seen, s.app_version, s.terminal_type,
       s.service_name, s.resource_attributes, s.has_api_requests, s.unattributed,
       s.agents_view
  FROM sessions AS s
 WHERE s.org_id = %(org_id)s
   AND s.first_seen < %(to)s
   AND s.last_seen >= %(from)s
   AND (%(session_ids)s::text[] IS NULL OR s.session_id = ANY (%(session_ids)s::text[]))
   -- One seat's sessions, as group_by=user names the seat (an email is kept in lower case,
   -- an account or install id as sent). An id that only came along with a session whose
   -- seat is another, stronger one does not pick the session.
   AND (%(user)s::text IS NULL OR s.seat_identity IN (%(user)s::text, lower(%(user)s::text)))
   -- A member's own sessions: the seat is their email (from user.email or enduser.id) or
   -- an account or install id an admin linked to them. Never by a linked id that merely
   -- came along with someone else's seat: that session, and its content, are theirs. An
   -- email seat is in lower case (ingest, and migrations 0025 and 0026 for older ones), as
   -- seat_emails are: compared as stored, the sessions_seat index finds them, where
   -- lower() read every session of the org.
   AND (%(all_seats)s
        OR s.seat_identity = ANY (%(seat_emails)s::text[])
        OR s.seat_identity = ANY (%(seat_account_uuids)s::text[])
        OR s.seat_identity = ANY (%(seat_user_ids)s::text[]))
   AND (%(attributes)s::jsonb IS NULL
        OR NOT EXISTS (SELECT 1
                         FROM jsonb_each_text(%(attributes)s::jsonb) AS wanted (key, value)
                        WHERE (s.resource_attributes ->> wanted.key) IS DISTINCT FROM wanted.value))
   AND (%(after_last_seen)s::timestamptz IS NULL
        OR (s.last_seen, s.session_id) < (%(after_last_seen)s::timestamptz, %(after_session_id)s::text))
   -- The row comparison alone is not an index condition on sessions_page: this one is.
   AND (%(after_last_seen)s::timestamptz IS NULL OR s.last_seen <= %(after_last_seen)s::timestamptz)
   AND (%(model)s::text IS NULL
        OR EXISTS (SELECT 1
                     FROM log_events AS e
                    WHERE e.org_id = %(org_id)s
                      AND e.session_id = s.session_id
                      AND e.time >= %(from)s
                      AND e.time < %(to)s
                      AND e.event_name IN ('api_request', 'api_error')
                      AND regexp_replace(e.model, '\[[^]]*\]$', '') = %(model)s::text)
        OR EXISTS (SELECT 1
                     FROM metric_points AS m
                    WHERE m.org_id = %(org_id)s
                      AND m.session_id = s.session_id
                      AND m.time >= %(from)s
                      AND m.time < %(to)s
                      AND m.metric_name IN ('claude_code.cost.usage', 'claude_code.token.usage',
                                            'claude_code.lines_of_code.count')
                      AND regexp_replace(m.model, '\[[^]]*\]$', '') = %(model)s::text))
