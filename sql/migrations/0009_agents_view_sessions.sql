-- 0009_agents_view_sessions.sql: the `claude agents` UI process is not a session. Applied
-- once by `mojule init-db`: the column is instant (a constant default); marking the
-- sessions already stored reads each org's session.count points through their index.
--
-- Claude Code reports the process behind its `claude agents` view with a session.count
-- point of start_type agents_view, and may send that process's other usage under the same
-- session id. Reports left the point itself out already (0003); now ingest marks the
-- session (sql/session_upsert.sql), reports count it as no session, as they do an
-- unattributed one, and still count whatever it cost or did.
ALTER TABLE sessions ADD COLUMN agents_view boolean NOT NULL DEFAULT false;

-- Mark the sessions already stored, one org at a time under row-level security, as the
-- app would.
DO $$
DECLARE
    org bigint;
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        UPDATE sessions AS s
           SET agents_view = true
         WHERE s.org_id = org
           AND s.session_id IN (SELECT m.session_id
                                  FROM metric_points AS m
                                 WHERE m.org_id = org
                                   AND m.metric_name = 'claude_code.session.count'
                                   AND (m.attributes ->> 'start_type') = 'agents_view');
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
