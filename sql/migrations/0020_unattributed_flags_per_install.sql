-- 0020_unattributed_flags_per_install.sql: usage sent without session ids defers to the
-- events of the same install only. Applied once by `mojule init-db`: it reads each org's
-- unattributed sessions and the sessions beside them (few, through their index), and lists
-- the sessions it changes for the recount of usage_recount (migration 0019).
--
-- Migration 0008 let an unattributed session take its cost from events (none of its own:
-- zero) once any session of its seat had api_request events that day, and the mirror rule
-- took a named session's cost from events when the seat's unattributed session had them.
-- That guards against a pipeline that strips session.id from one signal only, which sends
-- one install's cost twice. But Claude Code's OTEL_METRICS_INCLUDE_SESSION_ID=false takes
-- session.id off its events and spans as well as its metrics (seen with 2.1.328), so the
-- seat's other machine, sending everything without session ids, repeated nothing: its
-- cost was dropped. Unattributed sessions are now one per seat, install and day
-- (mojule/usage.py), and sql/sessions_flag_unattributed.sql and sessions_flag_metrics_only.sql
-- match the install (user.id) too, or any of the seat's when a side sent none (a pipeline
-- that strips user.id with session.id). Here the sessions flagged by the seat alone, with
-- no api_request events of their own, go back to counting their metrics; an unattributed
-- session stored before holds all of its seat's day, under the user.id of the install that
-- wrote first. The mirror goes first: it may unflag the named sessions the other looks at.
-- Whether two sessions' user.id name the same install: yes when either sent none, as a
-- pipeline that strips session.id may strip user.id too. One definition for the flag rules
-- and this migration; inlined by the planner.
CREATE FUNCTION mojule_same_install(user_id text, other_user_id text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT user_id = other_user_id OR user_id IS NULL OR other_user_id IS NULL
$$;

DO $$
DECLARE
    org bigint;
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        -- The mirror: named sessions beside an unattributed session of their seat, flagged
        -- with no api_request events of their own, where no unattributed session of their
        -- install has any.
        WITH unflagged AS (
            UPDATE sessions AS m
               SET has_api_requests = false
             WHERE m.org_id = org
               AND NOT m.unattributed
               AND m.has_api_requests
               AND EXISTS (SELECT 1
                             FROM sessions AS c
                            WHERE c.org_id = org
                              AND c.unattributed
                              AND c.seat_identity = m.seat_identity
                              AND m.first_seen < date_trunc('day', c.first_seen, 'UTC')
                                                 + interval '25 hours'
                              AND m.last_seen >= date_trunc('day', c.first_seen, 'UTC')
                                                 - interval '1 hour')
               AND NOT EXISTS (SELECT 1
                                 FROM log_events AS e
                                WHERE e.org_id = org
                                  AND e.session_id = m.session_id
                                  AND e.event_name = 'api_request')
               AND NOT EXISTS (SELECT 1
                                 FROM sessions AS c
                                WHERE c.org_id = org
                                  AND c.unattributed
                                  AND c.seat_identity = m.seat_identity
                                  AND mojule_same_install(c.user_id, m.user_id)
                                  AND m.first_seen < date_trunc('day', c.first_seen, 'UTC')
                                                     + interval '25 hours'
                                  AND m.last_seen >= date_trunc('day', c.first_seen, 'UTC')
                                                     - interval '1 hour'
                                  AND EXISTS (SELECT 1
                                                FROM log_events AS e
                                               WHERE e.org_id = org
                                                 AND e.session_id = c.session_id
                                                 AND e.event_name = 'api_request'))
            RETURNING m.session_id)
        INSERT INTO usage_recount (org_id, session_id)
        SELECT org, session_id FROM unflagged
            ON CONFLICT DO NOTHING;

        WITH unflagged AS (
            UPDATE sessions AS c
               SET has_api_requests = false
             WHERE c.org_id = org
               AND c.unattributed
               AND c.has_api_requests
               AND NOT EXISTS (SELECT 1
                                 FROM log_events AS e
                                WHERE e.org_id = org
                                  AND e.session_id = c.session_id
                                  AND e.event_name = 'api_request')
               AND NOT EXISTS (SELECT 1
                                 FROM sessions AS s
                                WHERE s.org_id = org
                                  AND s.seat_identity = c.seat_identity
                                  AND mojule_same_install(s.user_id, c.user_id)
                                  AND NOT s.unattributed
                                  AND s.has_api_requests
                                  AND s.first_seen < date_trunc('day', c.first_seen, 'UTC')
                                                     + interval '25 hours'
                                  AND s.last_seen >= date_trunc('day', c.first_seen, 'UTC')
                                                     - interval '1 hour')
            RETURNING c.session_id)
        INSERT INTO usage_recount (org_id, session_id)
        SELECT org, session_id FROM unflagged
            ON CONFLICT DO NOTHING;
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
