-- 0019_request_cost_fractions.sql: an api_request event's cost counts to the fraction of
-- a micro-dollar when its two figures agree. Applied once by `mojule init-db`, which then
-- recounts the sessions it lists in usage_recount (see below and upgrade.rst).
--
-- Claude Code sends each request's cost twice: cost_usd, the double it adds to its own
-- session total (total_cost_usd), and cost_usd_micros, that double rounded to a whole
-- micro-dollar. Summing the rounded figures drifts from Claude Code's total by up to half a
-- micro-dollar a request (a real session of 8 requests: 0.045956 against 0.045958). So
-- cost_usd counts, exactly, whenever cost_usd_micros is missing or is cost_usd rounded
-- either way; cost_usd_micros counts when it is the only figure, and whenever the two
-- disagree by a micro-dollar or more, since then the integer is the one to trust.
-- Inlined by the planner (one expression, immutable), so the reports pay nothing for it.
CREATE FUNCTION mojule_request_cost_micros(cost_usd numeric, cost_usd_micros bigint)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN cost_usd IS NOT NULL
                 AND (cost_usd_micros IS NULL OR abs(cost_usd * 1000000 - cost_usd_micros) < 1)
            THEN cost_usd * 1000000
            ELSE cost_usd_micros::numeric END
$$;

-- The rollup function of migration 0008, with the cost above.
CREATE OR REPLACE FUNCTION mojule_usage_rollup_rows(for_org bigint, for_sessions text[],
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
     -- Each session's rows through its own index, whatever plan is cached: OFFSET 0 keeps
     -- the outer conditions from being pushed in, where an index on them might win.
     CROSS JOIN LATERAL (SELECT *
                           FROM log_events AS e
                          WHERE e.org_id = for_org
                            AND e.session_id = s.session_id
                            AND e.time >= s.since
                         OFFSET 0) AS e
     WHERE e.event_name IN ('api_request', 'api_error', 'api_retries_exhausted',
                            'tool_result', 'tool_decision')
),
points AS (
    SELECT m.session_id, m.time, m.record_id, m.metric_name, m.temporality, m.series_hash,
           m.start_time_unix_nano, m.time_unix_nano, m.value, m.model, m.type, m.decision,
           s.since
      FROM scope AS s
     CROSS JOIN LATERAL (SELECT *
                           FROM metric_points AS m
                          WHERE m.org_id = for_org
                            AND m.session_id = s.session_id
                            AND m.time >= s.since
                         OFFSET 0) AS m
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
    SELECT r.series_hash, r.start_time_unix_nano, r.since, max(p.value) AS value
      FROM (SELECT DISTINCT series_hash, start_time_unix_nano, since
              FROM points
             WHERE temporality = 2) AS r
      JOIN metric_points AS p
        ON p.org_id = for_org
       AND p.series_hash = r.series_hash
       AND p.start_time_unix_nano = r.start_time_unix_nano
       AND p.time < r.since
     GROUP BY r.series_hash, r.start_time_unix_nano, r.since
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
      LEFT JOIN run_baselines AS rb USING (series_hash, start_time_unix_nano, since)
     WHERE pt.temporality = 2
    WINDOW run_so_far AS (PARTITION BY pt.series_hash, pt.start_time_unix_nano, pt.session_id
                          ORDER BY pt.time_unix_nano, pt.record_id ROWS UNBOUNDED PRECEDING),
           run_before AS (PARTITION BY pt.series_hash, pt.start_time_unix_nano, pt.session_id
                          ORDER BY pt.time_unix_nano, pt.record_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
facts AS (
    SELECT ev.session_id, ev.time, ev.model,
           (ev.event_name <> 'api_request')::integer                       AS facts,
           (ev.event_name = 'api_request')::integer                        AS api_requests,
           0                                                                AS usage_points,
           CASE WHEN ev.event_name = 'api_request'
                THEN mojule_request_cost_micros(ev.cost_usd, ev.cost_usd_micros) END
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

-- The sessions whose usage must be counted again by rules that changed. A migration
-- lists them; `mojule init-db`, and after it every `mojule purge`, recounts them a batch
-- per transaction (mojule/rollup.py, recount_pending), so that no ingest waits for more
-- than a batch, where recounting a whole installation in the migration's one transaction
-- held every session it touched for minutes. Until its turn a session reads as before.
CREATE TABLE usage_recount (
    org_id      bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    session_id  text   NOT NULL,
    PRIMARY KEY (org_id, session_id)
);
ALTER TABLE usage_recount ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON usage_recount USING (org_id = mojule_current_org());
ALTER TABLE usage_recount FORCE ROW LEVEL SECURITY;

-- The sessions whose events counted a rounded cost, one org at a time, under the org's
-- row-level security as the app would read them.
DO $$
DECLARE
    org bigint;
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        INSERT INTO usage_recount (org_id, session_id)
        SELECT DISTINCT org, e.session_id
          FROM log_events AS e
         WHERE e.org_id = org
           AND e.event_name = 'api_request'
           AND e.session_id IS NOT NULL
           -- What the rule above counts differs from the rounded figure counted before.
           AND mojule_request_cost_micros(e.cost_usd, e.cost_usd_micros)
               <> e.cost_usd_micros;
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
