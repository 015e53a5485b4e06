-- Lists the reads of one person's sessions' content, newest first, a page at a time
-- before an audit row id: who read (or was refused), when, which session. A session is
-- theirs as analytics_sessions.sql finds a member's own: its seat is their email or an
-- id linked to them. Run by mojule/audit.py for "Reads of your content" and
-- GET /api/v1/content-reads; the audit_log_content_reads index finds each session's reads.
SELECT a.audit_id, a.occurred_at, a.actor_type, a.actor_id, a.actor_role, a.token_id,
       a.outcome, a.target_id AS session_id, a.details
  FROM sessions AS s
  JOIN audit_log AS a
    ON a.org_id = s.org_id
   AND a.target_id = s.session_id
   AND a.action = 'content.read'
   AND a.target_type = 'session'
 WHERE s.org_id = %(org_id)s
   AND (s.seat_identity = ANY (%(seat_emails)s::text[])
        OR s.seat_identity = ANY (%(seat_account_uuids)s::text[])
        OR s.seat_identity = ANY (%(seat_user_ids)s::text[]))
   AND (%(before_id)s::bigint IS NULL OR a.audit_id < %(before_id)s)
 ORDER BY a.audit_id DESC
 LIMIT %(limit)s
