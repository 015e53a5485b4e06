-- Lists an org's audit rows newest first, before a row id, with optional filters: the
-- dashboard's audit log, a page at a time (the API, export and CLI read audit_list.sql,
-- oldest first, as the chain runs).
SELECT audit_id, org_id, occurred_at, actor_type, actor_id, actor_role, token_id, action,
       target_type, target_id, outcome, reason, source_ip, user_agent, request_id, details
  FROM audit_log
 WHERE org_id = %(org_id)s
   AND (%(before_id)s::bigint IS NULL OR audit_id < %(before_id)s)
   AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)
   AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)
   AND (%(actor)s::text IS NULL OR actor_id = %(actor)s)
   AND (%(target)s::text IS NULL OR target_id = %(target)s)
 ORDER BY audit_id DESC
 LIMIT %(limit)s
