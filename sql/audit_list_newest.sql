-- Lists an org's audit rows newest first, before a row id, with optional filters: the
-- dashboard's audit log, a page at a time (the API, export and CLI read audit_list.sql,
-- oldest first, as the chain runs). The target filter also finds the rows about a seat's
-- sessions (content reads of a person's sessions, by their email); the action filter
-- keeps the actions it begins (content., hold.).
SELECT a.audit_id, a.org_id, a.occurred_at, a.actor_type, a.actor_id, a.actor_role,
       a.token_id, a.action, a.target_type, a.target_id, a.outcome, a.reason, a.source_ip,
       a.user_agent, a.request_id, a.details
  FROM audit_log AS a
 WHERE a.org_id = %(org_id)s
   AND (%(before_id)s::bigint IS NULL OR a.audit_id < %(before_id)s)
   AND (%(since)s::timestamptz IS NULL OR a.occurred_at >= %(since)s)
   AND (%(until)s::timestamptz IS NULL OR a.occurred_at < %(until)s)
   AND (%(actor)s::text IS NULL OR a.actor_id = %(actor)s)
   AND (%(target)s::text IS NULL
        OR a.target_id = %(target)s
        OR (a.target_type = 'session'
            AND EXISTS (SELECT 1
                          FROM sessions AS s
                         WHERE s.org_id = a.org_id
                           AND s.session_id = a.target_id
                           AND s.seat_identity IN (%(target)s::text, lower(%(target)s::text)))))
   AND (%(action)s::text IS NULL OR starts_with(a.action, %(action)s::text))
 ORDER BY a.audit_id DESC
 LIMIT %(limit)s
