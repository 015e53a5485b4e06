-- 0031_content_reads_index.sql: each person can see who read their sessions' content
-- (the dashboard's "Reads of your content", GET /api/v1/content-reads). Those reads are
-- found from the person's sessions, so the audit trail's content reads are indexed by
-- the session they read. Partial: only content.read rows. Applied once by
-- `mojule init-db`; it reads audit_log once to build the index and holds audit writes
-- (content reads and admin changes, never ingest) while it does, a few seconds per
-- million audit rows.
CREATE INDEX audit_log_content_reads ON audit_log (org_id, target_id, audit_id)
    WHERE action = 'content.read' AND target_type = 'session';
