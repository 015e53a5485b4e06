-- Lists the reads of one person's sessions' content, newest first, a page at a time
-- before an audit row id: who read (or was refused), when, which session. A session is
-- theirs as analytics_sessions.sql finds a member's own: its seat is their email or an
-- id linked to them. Run by mojule/audit.py for "Reads of your content" and
-- GET /api/v1/content-reads. From their sessions (the sessions_seat index) to each one's
-- newest reads (the audit_log_content_reads index, migration 0031), then merged: never a
-- walk through the org's whole audit trail for someone whose content nobody read.
SELECT r.audit_id, r.occurred_at, r.actor_type, r.actor_id, r.actor_role, r.token_id,
       r.outcome, r.session_id, r.details
  FROM sessions AS s
 CROSS JOIN LATERAL (
        SELECT a.audit_id, a.occurred_at, a.actor_type, a.actor_id, a.actor_role,
               a.token_id, a.outcome, a.target_id AS session_id, a.details
          FROM audit_log AS a
         WHERE a.org_id = s.org_id
           AND a.target_id = s.session_id
           AND a.action = 'content.read'
           AND a.target_type = 'session'
           AND (%(before_id)s::bigint IS NULL OR a.audit_id < %(before_id)s)
         ORDER BY a.audit_id DESC
         LIMIT %(limit)s) AS r
 WHERE s.org_id = %(org_id)s
   AND (s.seat_identity = ANY (%(seat_emails)s::text[])
        OR s.seat_identity = ANY (%(seat_account_uuids)s::text[])
        OR s.seat_identity = ANY (%(seat_user_ids)s::text[]))
 ORDER BY r.audit_id DESC
 LIMIT %(limit)s
