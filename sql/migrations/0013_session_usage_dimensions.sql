-- 0013_session_usage_dimensions.sql: session_usage rows carry what reports group and count
-- them by from their session (seat, terminal, app version, and whether it counts as a
-- session), so an org-wide report adds up its whole sessions from session_usage alone.
-- Applied once by `mojule init-db`: the columns are instant; filling them rewrites
-- session_usage, one org at a time (3.1 million rows, a million sessions, in 40 s on the
-- 2-core benchmark machine).
--
-- A large org's report spent more time joining its sessions to their session_usage rows
-- than adding them up. The copied columns follow their session: mojule_session_usage_rows()
-- writes them with the rest of the row, and a trigger on sessions updates them when ingest
-- fills in a seat, terminal or app version that was unknown, or marks a `claude agents`
-- process (sql/session_upsert.sql). Both run in the writing transaction, under the session
-- row's lock, so the copy can never lag behind its session.
--
-- Ingest takes sessions, then usage_rollup, then session_usage (the 0006 trigger); taking
-- session_usage first and sessions (for its trigger) second would deadlock with a running
-- worker of the previous release. So sessions first: in-flight ingests finish, new ones
-- wait for this migration.
LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE;
ALTER TABLE session_usage
    ADD COLUMN seat_identity text,
    ADD COLUMN terminal_type text,
    ADD COLUMN app_version   text,
    -- An unattributed session or a `claude agents` process: counted, but not as a session.
    ADD COLUMN not_a_session boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION mojule_session_usage_rows(for_org bigint, for_sessions text[])
RETURNS SETOF session_usage
LANGUAGE sql STABLE AS $$
WITH counted AS (
    -- The session's rollup rows that count, per raw model, from the session's source.
    SELECT r.session_id, r.model, regexp_replace(r.model, '\[[^]]*\]$', '') AS model_key,
           min(r.bucket) AS first_bucket, max(r.bucket) AS last_bucket,
           sum(CASE WHEN s.has_api_requests THEN r.event_cost_micros
                    ELSE r.metric_cost_micros END)                       AS cost_micros,
           sum(CASE WHEN s.has_api_requests THEN r.event_input_tokens
                    ELSE r.metric_input_tokens END)                      AS input_tokens,
           sum(CASE WHEN s.has_api_requests THEN r.event_output_tokens
                    ELSE r.metric_output_tokens END)                     AS output_tokens,
           sum(CASE WHEN s.has_api_requests THEN r.event_cache_read_tokens
                    ELSE r.metric_cache_read_tokens END)                 AS cache_read_tokens,
           sum(CASE WHEN s.has_api_requests THEN r.event_cache_creation_tokens
                    ELSE r.metric_cache_creation_tokens END)             AS cache_creation_tokens,
           sum(CASE WHEN s.has_api_requests THEN r.api_requests ELSE 0 END) AS api_requests,
           sum(r.api_errors) AS api_errors, sum(r.api_retries_exhausted) AS api_retries_exhausted,
           sum(r.tool_calls) AS tool_calls, sum(r.tool_successes) AS tool_successes,
           sum(r.tool_failures) AS tool_failures, sum(r.tool_duration_ms) AS tool_duration_ms,
           sum(r.tool_timed) AS tool_timed, sum(r.tool_accepts) AS tool_accepts,
           sum(r.tool_rejects) AS tool_rejects, sum(r.lines_added) AS lines_added,
           sum(r.lines_removed) AS lines_removed, sum(r.commits) AS commits,
           sum(r.pull_requests) AS pull_requests, sum(r.edits_accepted) AS edits_accepted,
           sum(r.edits_rejected) AS edits_rejected,
           sum(r.active_time_user_s) AS active_time_user_s,
           sum(r.active_time_cli_s) AS active_time_cli_s,
           s.seat_identity, s.terminal_type, s.app_version,
           s.unattributed OR s.agents_view AS not_a_session
      FROM sessions AS s
      JOIN usage_rollup AS r
        ON r.org_id = s.org_id
       AND r.session_id = s.session_id
     WHERE s.org_id = for_org
       AND s.session_id = ANY (for_sessions)
       AND r.facts + CASE WHEN s.has_api_requests THEN r.api_requests
                          ELSE r.usage_points END > 0
     GROUP BY r.session_id, r.model, s.seat_identity, s.terminal_type, s.app_version,
              s.unattributed, s.agents_view
),
ordered AS (
    SELECT c.*,
           min(c.first_bucket) OVER whole_session AS session_first_bucket,
           max(c.last_bucket) OVER whole_session AS session_last_bucket,
           round(sum(c.cost_micros) OVER running)
           - round(sum(c.cost_micros) OVER running - coalesce(c.cost_micros, 0)) AS whole_micros,
           row_number() OVER model_group = 1 AS first_of_model_key
      FROM counted AS c
    WINDOW whole_session AS (PARTITION BY c.session_id),
           running AS (PARTITION BY c.session_id ORDER BY c.model_key, c.model
                       ROWS UNBOUNDED PRECEDING),
           model_group AS (PARTITION BY c.session_id, c.model_key ORDER BY c.model)
)
SELECT for_org, session_id, true, model, model_key, session_first_bucket,
       session_last_bucket, first_of_model_key, NULL::text[], whole_micros, input_tokens,
       output_tokens, cache_read_tokens, cache_creation_tokens, api_requests, api_errors,
       api_retries_exhausted, tool_calls, tool_successes, tool_failures, tool_duration_ms,
       tool_timed, tool_accepts, tool_rejects, lines_added, lines_removed, commits,
       pull_requests, edits_accepted, edits_rejected, active_time_user_s, active_time_cli_s,
       seat_identity, terminal_type, app_version, not_a_session
  FROM ordered
UNION ALL
SELECT for_org, session_id, false, NULL, NULL, min(first_bucket), max(last_bucket), true,
       coalesce(array_agg(model ORDER BY model) FILTER (WHERE model IS NOT NULL),
                ARRAY[]::text[]),
       round(sum(cost_micros)), sum(input_tokens), sum(output_tokens),
       sum(cache_read_tokens), sum(cache_creation_tokens), sum(api_requests)::bigint,
       sum(api_errors)::bigint, sum(api_retries_exhausted)::bigint, sum(tool_calls)::bigint,
       sum(tool_successes)::bigint, sum(tool_failures)::bigint, sum(tool_duration_ms),
       sum(tool_timed)::bigint, sum(tool_accepts)::bigint, sum(tool_rejects)::bigint,
       sum(lines_added), sum(lines_removed), sum(commits),
       sum(pull_requests), sum(edits_accepted), sum(edits_rejected),
       sum(active_time_user_s), sum(active_time_cli_s),
       seat_identity, terminal_type, app_version, not_a_session
  FROM counted
 GROUP BY session_id, seat_identity, terminal_type, app_version, not_a_session
$$;

-- Copies a session's changed columns to its session_usage rows.
CREATE FUNCTION mojule_session_usage_follow_session()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_usage
       SET seat_identity = NEW.seat_identity,
           terminal_type = NEW.terminal_type,
           app_version   = NEW.app_version,
           not_a_session = NEW.unattributed OR NEW.agents_view
     WHERE org_id = NEW.org_id
       AND session_id = NEW.session_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER session_usage_follow_session
    AFTER UPDATE OF seat_identity, terminal_type, app_version, unattributed, agents_view
    ON sessions
    FOR EACH ROW
    WHEN (OLD.seat_identity IS DISTINCT FROM NEW.seat_identity
          OR OLD.terminal_type IS DISTINCT FROM NEW.terminal_type
          OR OLD.app_version IS DISTINCT FROM NEW.app_version
          OR OLD.unattributed <> NEW.unattributed
          OR OLD.agents_view <> NEW.agents_view)
    EXECUTE FUNCTION mojule_session_usage_follow_session();

-- Fill the rows already stored, one org at a time under row-level security, as the app
-- would.
DO $$
DECLARE
    org bigint;
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        UPDATE session_usage AS u
           SET seat_identity = s.seat_identity,
               terminal_type = s.terminal_type,
               app_version   = s.app_version,
               not_a_session = s.unattributed OR s.agents_view
          FROM sessions AS s
         WHERE u.org_id = org
           AND s.org_id = org
           AND s.session_id = u.session_id;
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
