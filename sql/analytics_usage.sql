-- The accounting core, run by mojule/accounting.py for usage reports, session lists and
-- session detail: what an org's sessions cost and did in [from, to), grouped by the key
-- columns mojule/accounting.py names in place of the braces (identifiers only). The
-- sessions in scope are those of analytics_sessions.sql, composed in as a subquery.
--
-- A session's cost and tokens come from its api_request events when it sent any (at any
-- time, not only in the window), otherwise from its cost and token metrics. Metric points
-- become deltas: delta points (temporality 1, or 0) count as sent; a cumulative run
-- (series, start time) counts max(value before to) - max(value before from), its first
-- point in full when its start precedes it and only as a baseline when start = time;
-- a gauge counts its last value. Figures are summed per session and group first; each
-- session's cost is then rounded to micro-dollars by cumulative rounding over its groups,
-- so whatever the grouping, the groups add up to the rounded per-session totals exactly.
WITH scope AS (
    SELECT sc.session_id, sc.seat_identity, sc.first_seen, sc.last_seen, sc.terminal_type,
           sc.app_version, sc.resource_attributes,
           (sc.first_seen < %(from)s OR sc.last_seen >= %(to)s) AS crosses_window
      FROM ({sessions}) AS sc
),
events AS (
    SELECT e.session_id, e.time, e.event_name, e.model, e.tool_name,
           e.decision, e.success, e.duration_ms, e.cost_usd_micros, e.cost_usd,
           e.input_tokens, e.output_tokens, e.cache_read_tokens, e.cache_creation_tokens
      FROM log_events AS e
     WHERE e.org_id = %(org_id)s
       AND e.time >= %(from)s
       AND e.time < %(to)s
       AND e.event_name IN ('api_request', 'api_error', 'api_retries_exhausted',
                            'tool_result', 'tool_decision')
       AND e.session_id IN (SELECT session_id FROM scope)
),
points AS (
    SELECT m.session_id, m.time, m.metric_name, m.kind, m.temporality,
           m.series_hash, m.start_time_unix_nano, m.time_unix_nano, m.value, m.model,
           m.type, m.tool_name, m.decision, m.language
      FROM metric_points AS m
     WHERE m.org_id = %(org_id)s
       AND m.time >= %(from)s
       AND m.time < %(to)s
       AND m.metric_name IN ('claude_code.session.count', 'claude_code.cost.usage',
                             'claude_code.token.usage', 'claude_code.lines_of_code.count',
                             'claude_code.commit.count', 'claude_code.pull_request.count',
                             'claude_code.code_edit_tool.decision',
                             'claude_code.active_time.total')
       AND m.kind IN ('sum', 'gauge')
       AND m.value IS NOT NULL
       -- The `claude agents` UI process is not a session of its own.
       AND (m.metric_name <> 'claude_code.session.count'
            OR (m.attributes ->> 'start_type') IS DISTINCT FROM 'agents_view')
       AND m.session_id IN (SELECT session_id FROM scope)
),
run_baselines AS (
    -- The highest value each cumulative run in the window had reached before it.
    SELECT p.series_hash, p.start_time_unix_nano, max(p.value) AS value
      FROM metric_points AS p
     WHERE p.org_id = %(org_id)s
       AND p.time < %(from)s
       AND (p.series_hash, p.start_time_unix_nano) IN (
               SELECT series_hash, start_time_unix_nano
                 FROM points
                WHERE kind = 'sum'
                  AND temporality = 2)
     GROUP BY p.series_hash, p.start_time_unix_nano
),
point_deltas AS (
    SELECT session_id, time, metric_name, model, type, tool_name, decision, language,
           value AS delta
      FROM points
     WHERE kind = 'sum'
       AND temporality <> 2
    UNION ALL
    SELECT pt.session_id, pt.time, pt.metric_name, pt.model, pt.type, pt.tool_name,
           pt.decision, pt.language,
           CASE
               WHEN pt.kind = 'gauge' THEN
                   CASE WHEN pt.time_unix_nano = max(pt.time_unix_nano) OVER series
                        THEN pt.value ELSE 0 END
               ELSE
                   greatest(max(pt.value) OVER run_so_far, rb.value)
                   - coalesce(greatest(max(pt.value) OVER run_before, rb.value),
                              CASE WHEN pt.start_time_unix_nano = pt.time_unix_nano
                                   THEN pt.value ELSE 0 END)
           END
      FROM points AS pt
      LEFT JOIN run_baselines AS rb USING (series_hash, start_time_unix_nano)
     WHERE pt.kind = 'gauge'
        OR pt.temporality = 2
    WINDOW series     AS (PARTITION BY pt.series_hash),
           run_so_far AS (PARTITION BY pt.series_hash, pt.start_time_unix_nano
                          ORDER BY pt.time_unix_nano ROWS UNBOUNDED PRECEDING),
           run_before AS (PARTITION BY pt.series_hash, pt.start_time_unix_nano
                          ORDER BY pt.time_unix_nano
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
facts AS (
    -- One row per event or metric point: `fact` is the event or metric name, `detail`
    -- its type, decision or success, `amount` its metric delta or tool duration.
    SELECT ev.session_id, ev.time, ev.event_name AS fact,
           CASE ev.event_name WHEN 'tool_result' THEN ev.success::text
                              WHEN 'tool_decision' THEN ev.decision END AS detail,
           ev.model, ev.tool_name, NULL::text AS language,
           CASE WHEN ev.event_name = 'api_request' THEN 'events' END AS usage_source,
           CASE WHEN ev.event_name = 'api_request'
                THEN coalesce(ev.cost_usd_micros::numeric, ev.cost_usd * 1000000) END AS cost_micros,
           CASE WHEN ev.event_name = 'api_request' THEN ev.input_tokens END AS input_tokens,
           CASE WHEN ev.event_name = 'api_request' THEN ev.output_tokens END AS output_tokens,
           CASE WHEN ev.event_name = 'api_request' THEN ev.cache_read_tokens END AS cache_read_tokens,
           CASE WHEN ev.event_name = 'api_request' THEN ev.cache_creation_tokens END AS cache_creation_tokens,
           ev.duration_ms::numeric AS amount
      FROM events AS ev
    UNION ALL
    SELECT d.session_id, d.time, d.metric_name, coalesce(d.type, d.decision),
           d.model, d.tool_name, d.language,
           CASE WHEN d.metric_name IN ('claude_code.cost.usage', 'claude_code.token.usage')
                THEN 'metrics' END,
           CASE WHEN d.metric_name = 'claude_code.cost.usage' THEN d.delta * 1000000 END,
           CASE WHEN d.metric_name = 'claude_code.token.usage' AND d.type = 'input' THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.token.usage' AND d.type = 'output' THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.token.usage' AND d.type = 'cacheRead' THEN d.delta END,
           CASE WHEN d.metric_name = 'claude_code.token.usage' AND d.type = 'cacheCreation' THEN d.delta END,
           d.delta
      FROM point_deltas AS d
),
event_sourced AS (
    -- Sessions whose cost and tokens come from events: an api_request in the window, or,
    -- for a session reaching beyond the window, anywhere in its lifetime.
    SELECT sc.session_id
      FROM scope AS sc
     WHERE sc.session_id IN (SELECT session_id FROM events WHERE event_name = 'api_request')
        OR (sc.crosses_window
            AND EXISTS (SELECT 1
                          FROM log_events AS o
                         WHERE o.org_id = %(org_id)s
                           AND o.session_id = sc.session_id
                           AND o.time >= sc.first_seen
                           AND o.time <= sc.last_seen
                           AND o.event_name = 'api_request'))
),
keyed AS (
    SELECT f.session_id, sc.seat_identity, f.fact, f.detail, f.model, f.amount, f.cost_micros,
           f.input_tokens, f.output_tokens, f.cache_read_tokens, f.cache_creation_tokens,
           to_char(f.time AT TIME ZONE %(tz)s::text, 'YYYY-MM-DD') AS key_day,
           to_char(date_trunc('week', f.time AT TIME ZONE %(tz)s::text), 'YYYY-MM-DD') AS key_week,
           sc.seat_identity AS key_user,
           regexp_replace(f.model, '\[[^]]*\]$', '') AS key_model,
           sc.terminal_type AS key_terminal,
           sc.app_version AS key_app_version,
           sc.resource_attributes ->> %(attr_0)s AS key_attr_0,
           sc.resource_attributes ->> %(attr_1)s AS key_attr_1,
           f.session_id AS key_session,
           f.tool_name AS key_tool,
           f.language AS key_language
      FROM facts AS f
      JOIN scope AS sc USING (session_id)
      LEFT JOIN event_sourced AS es USING (session_id)
     WHERE f.usage_source IS NULL
        OR f.usage_source = CASE WHEN es.session_id IS NULL THEN 'metrics' ELSE 'events' END
),
per_session AS (
    -- One row per group, session and raw model name.
    SELECT {key_columns} session_id, seat_identity, model,
           sum(cost_micros)                                                       AS cost_micros,
           sum(input_tokens)                                                      AS input_tokens,
           sum(output_tokens)                                                     AS output_tokens,
           sum(cache_read_tokens)                                                 AS cache_read_tokens,
           sum(cache_creation_tokens)                                             AS cache_creation_tokens,
           count(*) FILTER (WHERE fact = 'api_request')                           AS api_requests,
           count(*) FILTER (WHERE fact = 'api_error')                             AS api_errors,
           count(*) FILTER (WHERE fact = 'api_retries_exhausted')                 AS api_retries_exhausted,
           count(*) FILTER (WHERE fact = 'tool_result')                           AS tool_calls,
           count(*) FILTER (WHERE fact = 'tool_result' AND detail = 'true')       AS tool_successes,
           count(*) FILTER (WHERE fact = 'tool_result' AND detail = 'false')      AS tool_failures,
           sum(amount) FILTER (WHERE fact = 'tool_result')                        AS tool_duration_ms,
           count(amount) FILTER (WHERE fact = 'tool_result')                      AS tool_timed,
           count(*) FILTER (WHERE fact = 'tool_decision' AND detail = 'accept')   AS tool_accepts,
           count(*) FILTER (WHERE fact = 'tool_decision' AND detail = 'reject')   AS tool_rejects,
           sum(amount) FILTER (WHERE fact = 'claude_code.lines_of_code.count'
                                 AND detail = 'added')                            AS lines_added,
           sum(amount) FILTER (WHERE fact = 'claude_code.lines_of_code.count'
                                 AND detail = 'removed')                          AS lines_removed,
           sum(amount) FILTER (WHERE fact = 'claude_code.commit.count')           AS commits,
           sum(amount) FILTER (WHERE fact = 'claude_code.pull_request.count')     AS pull_requests,
           sum(amount) FILTER (WHERE fact = 'claude_code.code_edit_tool.decision'
                                 AND detail = 'accept')                           AS edits_accepted,
           sum(amount) FILTER (WHERE fact = 'claude_code.code_edit_tool.decision'
                                 AND detail = 'reject')                           AS edits_rejected,
           sum(amount) FILTER (WHERE fact = 'claude_code.active_time.total'
                                 AND detail = 'user')                             AS active_time_user_s,
           sum(amount) FILTER (WHERE fact = 'claude_code.active_time.total'
                                 AND detail = 'cli')                              AS active_time_cli_s
      FROM keyed
     GROUP BY {key_columns} session_id, seat_identity, model
),
rounded AS (
    -- Cumulative rounding: each row gets round(running total) - round(previous running
    -- total) of its session, so a session's rows add up to its rounded total.
    SELECT ps.*,
           round(sum(ps.cost_micros) OVER running)
           - round(sum(ps.cost_micros) OVER running - coalesce(ps.cost_micros, 0)) AS whole_micros
      FROM per_session AS ps
    WINDOW running AS (PARTITION BY ps.session_id ORDER BY {key_columns} ps.model
                       ROWS UNBOUNDED PRECEDING)
)
SELECT {key_columns}
       round(coalesce(sum(whole_micros), 0) / 1000000, 6)                     AS cost_usd,
       coalesce(round(sum(input_tokens)), 0)::bigint                          AS input_tokens,
       coalesce(round(sum(output_tokens)), 0)::bigint                         AS output_tokens,
       coalesce(round(sum(cache_read_tokens)), 0)::bigint                     AS cache_read_tokens,
       coalesce(round(sum(cache_creation_tokens)), 0)::bigint                 AS cache_creation_tokens,
       count(DISTINCT session_id)                                             AS sessions,
       count(DISTINCT seat_identity)                                          AS active_users,
       coalesce(sum(api_requests), 0)::bigint                                 AS api_requests,
       coalesce(sum(api_errors), 0)::bigint                                   AS api_errors,
       coalesce(sum(api_retries_exhausted), 0)::bigint                        AS api_retries_exhausted,
       coalesce(sum(tool_calls), 0)::bigint                                   AS tool_calls,
       coalesce(sum(tool_successes), 0)::bigint                               AS tool_successes,
       coalesce(sum(tool_failures), 0)::bigint                                AS tool_failures,
       round(sum(tool_duration_ms) / nullif(sum(tool_timed), 0), 3)::float8   AS tool_avg_duration_ms,
       coalesce(sum(tool_accepts), 0)::bigint                                 AS tool_accepts,
       coalesce(sum(tool_rejects), 0)::bigint                                 AS tool_rejects,
       coalesce(round(sum(lines_added)), 0)::bigint                           AS lines_added,
       coalesce(round(sum(lines_removed)), 0)::bigint                         AS lines_removed,
       coalesce(round(sum(commits)), 0)::bigint                               AS commits,
       coalesce(round(sum(pull_requests)), 0)::bigint                         AS pull_requests,
       coalesce(round(sum(edits_accepted)), 0)::bigint                        AS edits_accepted,
       coalesce(round(sum(edits_rejected)), 0)::bigint                        AS edits_rejected,
       round(coalesce(sum(active_time_user_s), 0), 3)::float8                 AS active_time_user_s,
       round(coalesce(sum(active_time_cli_s), 0), 3)::float8                  AS active_time_cli_s,
       coalesce(array_agg(DISTINCT model ORDER BY model) FILTER (WHERE model IS NOT NULL),
                ARRAY[]::text[])                                              AS models
  FROM rounded
 GROUP BY {group_by}
{order_by}
