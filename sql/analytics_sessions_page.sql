-- A page of the sessions of analytics_sessions.sql (composed in place of the braces),
-- newest first: last_seen, then session_id, both descending. Run by mojule/accounting.py
-- for the session list and session detail.
SELECT s.session_id, s.seat_identity, s.user_email, s.user_account_uuid, s.user_id,
       s.organization_uuid, s.first_seen, s.last_seen, s.app_version, s.terminal_type,
       s.service_name, s.resource_attributes, s.has_api_requests, s.unattributed,
       s.agents_view
  FROM ({sessions}) AS s
 ORDER BY s.last_seen DESC, s.session_id DESC
 LIMIT %(limit)s
