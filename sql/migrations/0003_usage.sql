-- 0003_usage.sql: what usage reports read instead of every raw row. Applied once by
-- `mojule init-db`, which fills the new tables from the rows already stored.
--
-- sessions.has_api_requests says where a session's cost and tokens come from: its
-- api_request events when it sent any, otherwise its cost and token metrics.
--
-- usage_rollup holds, per session, quarter hour and raw model name, the sums and counts of
-- the facts the accounting core (sql/analytics_usage.sql) reads from log_events and
-- metric_points. Each row is a pure function of the raw rows of its session and quarter
-- hour, computed by mojule_usage_rollup_rows() below; ingest recomputes the quarter hours
-- it adds rows to, in the same transaction (mojule/rollup.py), so the rollup always equals
-- a recomputation from the raw rows. Reports read it for the whole quarter hours of their
-- window and the raw rows for the rest. Gauges are never rolled up: a gauge counts its last
-- value in the window, which no fixed bucket can know. Every time zone in use today is a
-- whole number of quarter hours from UTC, so a quarter hour never straddles a local day.

ALTER TABLE sessions ADD COLUMN has_api_requests boolean NOT NULL DEFAULT false;

CREATE TABLE usage_rollup (
    org_id                       bigint      NOT NULL,
    session_id                   text        NOT NULL,
    bucket                       timestamptz NOT NULL,  -- start of the quarter hour
    model                        text,                  -- raw name; NULL when none was given
    -- How many facts the row sums: those that count whatever the session's source, its
    -- api_request events, and its cost and token metric points. A report keeps a row when
    -- facts, or the count of the session's source, is not zero.
    facts                        integer     NOT NULL,
    api_requests                 integer     NOT NULL,
    usage_points                 integer     NOT NULL,
    -- The sums, NULL when no fact has a value for one (as SQL's sum() of nothing): cost
    -- (micro-dollars) and tokens from api_request events, then from metrics, then the rest.
    event_cost_micros            numeric,
    event_input_tokens           numeric,
    event_output_tokens          numeric,
    event_cache_read_tokens      numeric,
    event_cache_creation_tokens  numeric,
    metric_cost_micros           numeric,
    metric_input_tokens          numeric,
    metric_output_tokens         numeric,
    metric_cache_read_tokens     numeric,
    metric_cache_creation_tokens numeric,
    api_errors                   integer,
    api_retries_exhausted        integer,
    tool_calls                   integer,
    tool_successes               integer,
    tool_failures                integer,
    tool_duration_ms             numeric,
    tool_timed                   integer,
    tool_accepts                 integer,
    tool_rejects                 integer,
    lines_added                  numeric,
    lines_removed                numeric,
    commits                      numeric,
    pull_requests                numeric,
    edits_accepted               numeric,
    edits_rejected               numeric,
    active_time_user_s           numeric,
    active_time_cli_s            numeric
);
CREATE UNIQUE INDEX usage_rollup_key
    ON usage_rollup (org_id, session_id, bucket, model) NULLS NOT DISTINCT;
CREATE INDEX usage_rollup_bucket ON usage_rollup (org_id, bucket);
ALTER TABLE usage_rollup ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON usage_rollup USING (org_id = mojule_current_org());
ALTER TABLE usage_rollup FORCE ROW LEVEL SECURITY;

-- Reports read gauges from the raw rows over their whole window; they are rare.
CREATE INDEX metric_points_gauges ON metric_points (org_id, time) WHERE kind = 'gauge';
-- Session lists page newest first by (last_seen, session_id).
CREATE INDEX sessions_page ON sessions (org_id, last_seen DESC, session_id DESC);
DROP INDEX sessions_last_seen;

-- The row-level security policies' org lookup reads a setting that parallel workers share:
-- marked safe, a report of a large org may use them.
ALTER FUNCTION mojule_current_org() PARALLEL SAFE;

-- Returns the usage_rollup rows of the sessions `for_sessions` of `for_org`, each from the
-- quarter hour holding its time in `since_times` on (-infinity: all of them), computed from the raw rows by the rules of
-- sql/analytics_usage.sql: the facts are api_request, api_error, api_retries_exhausted,
-- tool_result and tool_decision events, and the deltas of the points of eight Claude Code
-- sums (the `claude agents` UI's session.count excluded). Delta points count as sent; a
-- point of a cumulative run (series, start time) counts what it raised the run's highest
-- value by, in time order, its first point in full unless its start equals its time.
-- Runs that began before `since` are continued from their highest value before it.
CREATE FUNCTION mojule_usage_rollup_rows(for_org bigint, for_sessions text[],
                                         since_times timestamptz[])
RETURNS SETOF usage_rollup
LANGUAGE sql STABLE AS $$
WITH scope AS (
    SELECT s.session_id,
           CASE WHEN isfinite(s.since)
                THEN date_bin('15 minutes', s.since, TIMESTAMPTZ '2000-01-01 00:00:00+00')
                ELSE s.since END AS since
      FROM unnest(for_sessions, since_times) AS s (session_id, since)
),
events AS (
    SELECT e.session_id, e.time, e.event_name, e.model, e.decision, e.success,
           e.duration_ms, e.cost_usd_micros, e.cost_usd, e.input_tokens, e.output_tokens,
           e.cache_read_tokens, e.cache_creation_tokens
      FROM scope AS s
      JOIN log_events AS e
        ON e.org_id = for_org
       AND e.session_id = s.session_id
       AND e.time >= s.since
     WHERE e.event_name IN ('api_request', 'api_error', 'api_retries_exhausted',
                            'tool_result', 'tool_decision')
),
points AS (
    SELECT m.session_id, m.time, m.record_id, m.metric_name, m.temporality, m.series_hash,
           m.start_time_unix_nano, m.time_unix_nano, m.value, m.model, m.type, m.decision,
           s.since
      FROM scope AS s
      JOIN metric_points AS m
        ON m.org_id = for_org
       AND m.session_id = s.session_id
       AND m.time >= s.since
     WHERE m.metric_name IN ('claude_code.session.count', 'claude_code.cost.usage',
                             'claude_code.token.usage', 'claude_code.lines_of_code.count',
                             'claude_code.commit.count', 'claude_code.pull_request.count',
                             'claude_code.code_edit_tool.decision',
                             'claude_code.active_time.total')
       AND m.kind = 'sum'
       AND m.value IS NOT NULL
       AND (m.metric_name <> 'claude_code.session.count'
            OR (m.attributes ->> 'start_type') IS DISTINCT FROM 'agents_view')
),
run_baselines AS (
    SELECT r.series_hash, r.start_time_unix_nano, max(p.value) AS value
      FROM (SELECT DISTINCT series_hash, start_time_unix_nano, since
              FROM points
             WHERE temporality = 2) AS r
      JOIN metric_points AS p
        ON p.org_id = for_org
       AND p.series_hash = r.series_hash
       AND p.start_time_unix_nano = r.start_time_unix_nano
       AND p.time < r.since
     GROUP BY r.series_hash, r.start_time_unix_nano
),
point_deltas AS (
    SELECT session_id, time, metric_name, model, type, coalesce(type, decision) AS detail,
           value AS delta
      FROM points
     WHERE temporality <> 2
    UNION ALL
    SELECT pt.session_id, pt.time, pt.metric_name, pt.model, pt.type,
           coalesce(pt.type, pt.decision),
           greatest(max(pt.value) OVER run_so_far, rb.value)
           - coalesce(greatest(max(pt.value) OVER run_before, rb.value),
                      CASE WHEN pt.start_time_unix_nano = pt.time_unix_nano
                           THEN pt.value ELSE 0 END)
      FROM points AS pt
      LEFT JOIN run_baselines AS rb USING (series_hash, start_time_unix_nano)
     WHERE pt.temporality = 2
    WINDOW run_so_far AS (PARTITION BY pt.series_hash, pt.start_time_unix_nano
                          ORDER BY pt.time_unix_nano, pt.record_id ROWS UNBOUNDED PRECEDING),
           run_before AS (PARTITION BY pt.series_hash, pt.start_time_unix_nano
                          ORDER BY pt.time_unix_nano, pt.record_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
facts AS (
    SELECT ev.session_id, ev.time, ev.model,
           (ev.event_name <> 'api_request')::integer                       AS facts,
           (ev.event_name = 'api_request')::integer                        AS api_requests,
           0                                                                AS usage_points,
           CASE WHEN ev.event_name = 'api_request'
                THEN coalesce(ev.cost_usd_micros::numeric, ev.cost_usd * 1000000) END
                                                                            AS event_cost_micros,
           CASE WHEN ev.event_name = 'api_request' THEN ev.input_tokens END AS event_input_tokens,
           CASE WHEN ev.event_name = 'api_request' THEN ev.output_tokens END AS event_output_tokens,
           CASE WHEN ev.event_name = 'api_request' THEN ev.cache_read_tokens END
                                                                            AS event_cache_read_tokens,
           CASE WHEN ev.event_name = 'api_request' THEN ev.cache_creation_tokens END
                                                                            AS event_cache_creation_tokens,
           NULL::numeric AS metric_cost_micros, NULL::numeric AS metric_input_tokens,
           NULL::numeric AS metric_output_tokens, NULL::numeric AS metric_cache_read_tokens,
           NULL::numeric AS metric_cache_creation_tokens,
           (ev.event_name = 'api_error')::integer                          AS api_errors,
           (ev.event_name = 'api_retries_exhausted')::integer              AS api_retries_exhausted,
           (ev.event_name = 'tool_result')::integer                        AS tool_calls,
           (ev.event_name = 'tool_result' AND ev.success IS TRUE)::integer AS tool_successes,
           (ev.event_name = 'tool_result' AND ev.success IS FALSE)::integer AS tool_failures,
           CASE WHEN ev.event_name = 'tool_result' THEN ev.duration_ms::numeric END
                                                                            AS tool_duration_ms,
           (ev.event_name = 'tool_result' AND ev.duration_ms IS NOT NULL)::integer AS tool_timed,
           (ev.event_name = 'tool_decision' AND ev.decision = 'accept')::integer AS tool_accepts,
           (ev.event_name = 'tool_decision' AND ev.decision = 'reject')::integer AS tool_rejects,
           NULL::numeric AS lines_added, NULL::numeric AS lines_removed,
           NULL::numeric AS commits, NULL::numeric AS pull_requests,
           NULL::numeric AS edits_accepted, NULL::numeric AS edits_rejected,
           NULL::numeric AS active_time_user_s, NULL::numeric AS active_time_cli_s
      FROM events AS ev
    UNION ALL
    SELECT d.session_id, d.time, d.model,
           (d.metric_name NOT IN ('claude_code.cost.usage', 'claude_code.token.usage'))::integer,
           0,
           (d.metric_name IN ('claude_code.cost.usage', 'claude_code.token.usage'))::integer,
           NULL, NULL, NULL, NULL, NULL,
           CASE WHEN d.metric_name = 'claude_code.cost.usage' THEN d.delta * 1000000 END,
           CASE WHEN d.metric_name = 'claude_code.token.usage' AND d.type = 'input'
                THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.token.usage' AND d.type = 'output'
                THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.token.usage' AND d.type = 'cacheRead'
                THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.token.usage' AND d.type = 'cacheCreation'
                THEN d.delta END,
           0, 0, 0, 0, 0, NULL, 0, 0, 0,
           CASE WHEN d.metric_name = 'claude_code.lines_of_code.count' AND d.detail = 'added'
                THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.lines_of_code.count' AND d.detail = 'removed'
                THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.commit.count' THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.pull_request.count' THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.code_edit_tool.decision'
                     AND d.detail = 'accept' THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.code_edit_tool.decision'
                     AND d.detail = 'reject' THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.active_time.total' AND d.detail = 'user'
                THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.active_time.total' AND d.detail = 'cli'
                THEN d.delta END
      FROM point_deltas AS d
)
SELECT for_org, session_id,
       date_bin('15 minutes', time, TIMESTAMPTZ '2000-01-01 00:00:00+00'), model,
       sum(facts)::integer, sum(api_requests)::integer, sum(usage_points)::integer,
       sum(event_cost_micros), sum(event_input_tokens), sum(event_output_tokens),
       sum(event_cache_read_tokens), sum(event_cache_creation_tokens),
       sum(metric_cost_micros), sum(metric_input_tokens), sum(metric_output_tokens),
       sum(metric_cache_read_tokens), sum(metric_cache_creation_tokens),
       nullif(sum(api_errors), 0)::integer, nullif(sum(api_retries_exhausted), 0)::integer,
       nullif(sum(tool_calls), 0)::integer, nullif(sum(tool_successes), 0)::integer,
       nullif(sum(tool_failures), 0)::integer, sum(tool_duration_ms),
       nullif(sum(tool_timed), 0)::integer, nullif(sum(tool_accepts), 0)::integer,
       nullif(sum(tool_rejects), 0)::integer, sum(lines_added), sum(lines_removed),
       sum(commits), sum(pull_requests), sum(edits_accepted), sum(edits_rejected),
       sum(active_time_user_s), sum(active_time_cli_s)
  FROM facts
 GROUP BY session_id, 3, model
$$;

-- Fill both from what is already stored, one org at a time: sessions and telemetry are
-- under forced row-level security, so each org is read with that org set, as the app would.
DO $$
DECLARE
    org bigint;
    ids text[];
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        UPDATE sessions AS s
           SET has_api_requests = true
         WHERE s.org_id = org
           AND EXISTS (SELECT 1
                         FROM log_events AS e
                        WHERE e.org_id = org
                          AND e.session_id = s.session_id
                          AND e.time >= s.first_seen
                          AND e.time <= s.last_seen
                          AND e.event_name = 'api_request');
        SELECT array_agg(session_id) INTO ids FROM sessions WHERE org_id = org;
        IF ids IS NOT NULL THEN
            INSERT INTO usage_rollup
            SELECT *
              FROM mojule_usage_rollup_rows(org, ids,
                                            array_fill('-infinity'::timestamptz,
                                                       ARRAY[cardinality(ids)]));
        END IF;
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
