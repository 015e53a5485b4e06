-- The accounting core, run by mojule/accounting.py for usage reports, session lists and
-- session detail: what an org's sessions cost and did in [from, to), grouped by the key
-- columns mojule/accounting.py names in place of the braces (identifiers only). The
-- sessions in scope are those of analytics_sessions.sql, composed in as a subquery.
--
-- A session's cost and tokens come from its api_request events when it sent any (at any
-- time, not only in the window: sessions.has_api_requests), otherwise from its cost and
-- token metrics. Metric points become deltas: delta points (temporality 1, or 0) count as
-- sent; a point of a cumulative run (series, start time) counts what it raised the run's
-- highest value by, in time order, its first point in full when its start precedes it
-- and only as a baseline when start = time; a gauge counts its last value in the window.
-- Figures are summed per session and group first; each session's cost is then rounded to
-- micro-dollars by cumulative rounding over its groups, so whatever the grouping, the
-- groups add up to the rounded per-session totals exactly. An unattributed session (what a
-- seat sent without session.id in one day, migration 0008) and a `claude agents` UI process
-- (migration 0009) count their figures, but are not counted as sessions.
--
-- The whole quarter hours [rollup_from, rollup_to) are read from usage_rollup, which holds
-- these same sums per session, quarter hour and model (migration 0003 computes them by
-- these rules); the rest of the window, and gauges, from the raw rows. rollup_from =
-- rollup_to = from reads everything raw, as a grouping by tool or language must.
--
-- A session whose counted rows all lie in those whole quarter hours (grouped by day,
-- week or month: in one local day, week or month too) and that sent no gauge in the window is read from
-- session_usage instead: its sums over its whole life, one row, or one per raw model when
-- grouped by model, with its cost already rounded as above (migration 0006), and with its
-- session's seat, terminal and app version (migration 0013). Only the other sessions, at
-- the window's edges, are summed and rounded here.
--
-- Of those, the sessions that began and ended in one of the window's whole UTC days from
-- days_from to days_to, which mojule/accounting.py gives only to a report that neither
-- groups nor filters by anything usage_days lacks, are read from usage_days, summed ahead
-- per day, seat and model (migration 0021), or, grouped by resource attributes, from
-- usage_days_attributes (migration 0022): `cover` keeps the days summed and unchanged
-- since, none if the window has a gauge or the attributes are not summed. Grouped by day
-- and user, a seat's summed day that nothing else adds to is its group's row as it is
-- (lone_days).
--
-- `scope` is not materialized: the few facts of the edge sessions find their session
-- through its key, and the many sessions read whole need no sessions row at all unless
-- the scope filters them or the report groups them by a resource attribute.
WITH scope AS NOT MATERIALIZED (
    SELECT sc.session_id, sc.seat_identity, sc.terminal_type, sc.app_version,
           CASE WHEN %(attr_0)s::text IS NOT NULL THEN sc.resource_attributes END
               AS resource_attributes,
           sc.has_api_requests, sc.unattributed OR sc.agents_view AS not_a_session
      FROM ({sessions}) AS sc
),
events AS (
    SELECT e.session_id, e.time, e.event_name, e.model, e.tool_name, e.decision, e.success,
           e.duration_ms, e.cost_usd_micros, e.cost_usd, e.input_tokens, e.output_tokens,
           e.cache_read_tokens, e.cache_creation_tokens,
           CASE WHEN %(by_source)s THEN e.attributes ->> %(source_attribute)s::text END AS source
      FROM log_events AS e
     WHERE e.org_id = %(org_id)s
       AND ((e.time >= %(from)s AND e.time < %(rollup_from)s)
            OR (e.time >= %(rollup_to)s AND e.time < %(to)s))
       AND e.event_name IN ('api_request', 'api_error', 'api_retries_exhausted',
                            'tool_result', 'tool_decision')
       AND (%(session_ids)s::text[] IS NULL OR e.session_id = ANY (%(session_ids)s::text[]))
),
points AS (
    -- Sums outside the rolled-up quarter hours, each with the start of its stretch of the
    -- window (`since`); gauges in the whole window.
    SELECT m.session_id, m.time, m.record_id, m.metric_name, m.kind, m.temporality,
           m.series_hash, m.start_time_unix_nano, m.time_unix_nano, m.value, m.model,
           m.type, m.tool_name, m.decision, m.language,
           CASE WHEN %(by_source)s THEN m.attributes ->> %(source_attribute)s::text END AS source,
           CASE WHEN m.time < %(rollup_from)s THEN %(from)s ELSE %(rollup_to)s END AS since
      FROM metric_points AS m
     WHERE m.org_id = %(org_id)s
       AND ((m.time >= %(from)s AND m.time < %(rollup_from)s)
            OR (m.time >= %(rollup_to)s AND m.time < %(to)s))
       AND m.metric_name IN ('claude_code.session.count', 'claude_code.cost.usage',
                             'claude_code.token.usage', 'claude_code.lines_of_code.count',
                             'claude_code.commit.count', 'claude_code.pull_request.count',
                             'claude_code.code_edit_tool.decision',
                             'claude_code.active_time.total')
       AND m.kind = 'sum'
       AND m.value IS NOT NULL
       -- The `claude agents` UI process is not a session of its own.
       AND (m.metric_name <> 'claude_code.session.count'
            OR (m.attributes ->> 'start_type') IS DISTINCT FROM 'agents_view')
       AND (%(session_ids)s::text[] IS NULL OR m.session_id = ANY (%(session_ids)s::text[]))
    UNION ALL
    SELECT m.session_id, m.time, m.record_id, m.metric_name, m.kind, m.temporality,
           m.series_hash, m.start_time_unix_nano, m.time_unix_nano, m.value, m.model,
           m.type, m.tool_name, m.decision, m.language,
           CASE WHEN %(by_source)s THEN m.attributes ->> %(source_attribute)s::text END,
           %(from)s
      FROM metric_points AS m
     WHERE m.org_id = %(org_id)s
       AND m.kind = 'gauge'
       AND m.time >= %(from)s
       AND m.time < %(to)s
       AND m.metric_name IN ('claude_code.session.count', 'claude_code.cost.usage',
                             'claude_code.token.usage', 'claude_code.lines_of_code.count',
                             'claude_code.commit.count', 'claude_code.pull_request.count',
                             'claude_code.code_edit_tool.decision',
                             'claude_code.active_time.total')
       AND m.value IS NOT NULL
       AND (m.metric_name <> 'claude_code.session.count'
            OR (m.attributes ->> 'start_type') IS DISTINCT FROM 'agents_view')
       AND (%(session_ids)s::text[] IS NULL OR m.session_id = ANY (%(session_ids)s::text[]))
),
cover AS MATERIALIZED (
    -- The days read from usage_days, [first_day, end_day), and the same as timestamps:
    -- from days_from up to the first day not summed yet or changed since. Always one row;
    -- an empty span (infinity) when none.
    SELECT c.first_day, c.end_day,
           c.first_day::timestamp AT TIME ZONE 'UTC' AS first_time,
           c.end_day::timestamp AT TIME ZONE 'UTC' AS end_time
      FROM (SELECT CASE WHEN u.usable THEN %(days_from)s::date ELSE 'infinity' END AS first_day,
                   CASE WHEN u.usable
                        THEN greatest(%(days_from)s::date, least(
                                 %(days_to)s::date, u.built_through,
                                 (SELECT min(ch.day)
                                    FROM usage_day_changes AS ch
                                   WHERE ch.org_id = %(org_id)s
                                     AND ch.day >= %(days_from)s::date
                                     AND ch.day < %(days_to)s::date)))
                        ELSE 'infinity' END AS end_day
              FROM (SELECT b.built_through,
                           %(days_from)s::date IS NOT NULL
                           AND b.built_through IS NOT NULL
                           AND NOT EXISTS (SELECT 1 FROM points WHERE kind = 'gauge')
                           -- Grouped by resource attributes: not by model too, nor by one
                           -- that usage_days_attributes leaves out (migration 0022).
                           AND (%(attr_0)s::text IS NULL
                                OR (NOT %(by_model)s
                                    AND NOT mojule_process_attribute(%(attr_0)s::text)
                                    AND NOT coalesce(mojule_process_attribute(%(attr_1)s::text),
                                                     false))) AS usable
                      FROM (SELECT (SELECT built_through
                                      FROM usage_days_built
                                     WHERE org_id = %(org_id)s) AS built_through) AS b) AS u
           ) AS c
),
unsummed_usage AS NOT MATERIALIZED (
    -- The session_usage rows of the window but those of the sessions read from usage_days:
    -- the rows that end before or after `cover`, and those of the sessions across midnight
    -- that end in it (few, through the partial index of migration 0021).
    SELECT u.*
      FROM session_usage AS u
     WHERE u.org_id = %(org_id)s
       AND u.per_model = %(by_model)s
       AND u.last_bucket >= %(rollup_from)s
       AND u.last_bucket < (SELECT first_time FROM cover)
    UNION ALL
    SELECT u.*
      FROM session_usage AS u
     WHERE u.org_id = %(org_id)s
       AND u.per_model = %(by_model)s
       AND u.last_bucket >= greatest(%(rollup_from)s, (SELECT end_time FROM cover))
    UNION ALL
    SELECT u.*
      FROM session_usage AS u
     WHERE u.org_id = %(org_id)s
       AND u.per_model = %(by_model)s
       AND u.last_bucket >= greatest(%(rollup_from)s, (SELECT first_time FROM cover))
       AND u.last_bucket < (SELECT end_time FROM cover)
       AND (u.first_bucket AT TIME ZONE 'UTC')::date <> (u.last_bucket AT TIME ZONE 'UTC')::date
),
day_rows AS NOT MATERIALIZED (
    -- The sessions of the days in `cover`, summed ahead, in the columns of span_rows,
    -- which holds them (but grouped by day and user: see lone_days): read whole, their
    -- keys those a report that reads usage_days may group by. Not materialized: read
    -- twice grouped by day and user, through the index, in key order.
    SELECT NULL::text AS session_id, true AS whole, d.sessions, d.model, d.models,
           d.seat_identity, d.whole_micros,
           d.input_tokens, d.output_tokens, d.cache_read_tokens, d.cache_creation_tokens,
           d.api_requests, d.api_errors, d.api_retries_exhausted, d.tool_calls,
           d.tool_successes, d.tool_failures, d.tool_duration_ms, d.tool_timed,
           d.tool_accepts, d.tool_rejects, d.lines_added, d.lines_removed, d.commits,
           d.pull_requests, d.edits_accepted, d.edits_rejected, d.active_time_user_s,
           d.active_time_cli_s,
           CASE WHEN %(by_day)s THEN d.day END AS key_day,
           CASE WHEN %(by_week)s THEN date_trunc('week', d.day)::date END AS key_week,
           CASE WHEN %(by_month)s THEN date_trunc('month', d.day)::date END AS key_month,
           CASE WHEN %(by_user)s THEN d.seat_identity END AS key_user,
           CASE WHEN %(by_model)s THEN d.model_key END AS key_model,
           NULL::text AS key_terminal, NULL::text AS key_app_version,
           NULL::text AS key_attr_0, NULL::text AS key_attr_1, NULL::text AS key_session,
           NULL::text AS key_tool, NULL::text AS key_language, NULL::text AS key_source
      FROM usage_days AS d
     WHERE d.org_id = %(org_id)s
       AND %(attr_0)s::text IS NULL
       AND d.per_model = %(by_model)s
       AND d.day >= (SELECT first_day FROM cover)
       AND d.day < (SELECT end_day FROM cover)
    UNION ALL
    -- The same summed per resource attributes, for a report grouped by them.
    SELECT NULL, true, a.sessions, NULL, a.models, a.seat_identity, a.whole_micros,
           a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cache_creation_tokens,
           a.api_requests, a.api_errors, a.api_retries_exhausted, a.tool_calls,
           a.tool_successes, a.tool_failures, a.tool_duration_ms, a.tool_timed,
           a.tool_accepts, a.tool_rejects, a.lines_added, a.lines_removed, a.commits,
           a.pull_requests, a.edits_accepted, a.edits_rejected, a.active_time_user_s,
           a.active_time_cli_s,
           CASE WHEN %(by_day)s THEN a.day END,
           CASE WHEN %(by_week)s THEN date_trunc('week', a.day)::date END,
           CASE WHEN %(by_month)s THEN date_trunc('month', a.day)::date END,
           CASE WHEN %(by_user)s THEN a.seat_identity END,
           NULL, NULL, NULL,
           a.resource_attributes ->> %(attr_0)s,
           a.resource_attributes ->> %(attr_1)s,
           NULL, NULL, NULL, NULL
      FROM usage_days_attributes AS a
     WHERE a.org_id = %(org_id)s
       AND %(attr_0)s::text IS NOT NULL
       AND a.day >= (SELECT first_day FROM cover)
       AND a.day < (SELECT end_day FROM cover)
),
span_rows AS (
    -- The session_usage rows of the sessions with counted rows in the whole quarter hours
    -- (totals, or per raw model when grouped by model), each with whether its session is
    -- read whole, and the keys of the report's groups. A row carries its session's seat,
    -- terminal and app version (migration 0013), and a session read whole lies inside the
    -- window: only a scope that filters sessions, or a grouping by a resource attribute,
    -- needs the sessions rows themselves. mojule/accounting.py (SESSIONS_JOIN) puts in
    -- the FROM clause below session_usage, or unsummed_usage for a report that reads days
    -- from usage_days (given days_from, and so alone with a `cover`; unsummed_usage keeps
    -- out the rows usage_days holds), joined to scope or alone with a row of NULLs as
    -- `sc`; then the rows of day_rows. These rows are kept for the statements below (the
    -- many of a large org, in memory), so a key is filled in only when the report groups
    -- by it.
    SELECT w.session_id,
           w.first_bucket >= %(rollup_from)s
           AND w.last_bucket < %(rollup_to)s
           AND (NOT %(by_day)s
                OR (w.first_bucket AT TIME ZONE %(tz)s::text)::date
                   = (w.last_bucket AT TIME ZONE %(tz)s::text)::date)
           AND (NOT %(by_week)s
                OR date_trunc('week', w.first_bucket AT TIME ZONE %(tz)s::text)
                   = date_trunc('week', w.last_bucket AT TIME ZONE %(tz)s::text))
           AND (NOT %(by_month)s
                OR date_trunc('month', w.first_bucket AT TIME ZONE %(tz)s::text)
                   = date_trunc('month', w.last_bucket AT TIME ZONE %(tz)s::text))
           AND NOT EXISTS (SELECT 1
                             FROM points AS g
                            WHERE g.kind = 'gauge'
                              AND g.session_id = w.session_id) AS whole,
           (w.counted AND NOT w.not_a_session)::integer AS sessions, w.model, w.models,
           w.seat_identity, w.whole_micros,
           w.input_tokens, w.output_tokens, w.cache_read_tokens, w.cache_creation_tokens,
           w.api_requests, w.api_errors, w.api_retries_exhausted, w.tool_calls,
           w.tool_successes, w.tool_failures, w.tool_duration_ms, w.tool_timed,
           w.tool_accepts, w.tool_rejects, w.lines_added, w.lines_removed, w.commits,
           w.pull_requests, w.edits_accepted, w.edits_rejected, w.active_time_user_s,
           w.active_time_cli_s,
           CASE WHEN %(by_day)s
                THEN (w.first_bucket AT TIME ZONE %(tz)s::text)::date END AS key_day,
           CASE WHEN %(by_week)s
                THEN date_trunc('week', w.first_bucket AT TIME ZONE %(tz)s::text)::date
           END AS key_week,
           CASE WHEN %(by_month)s
                THEN date_trunc('month', w.first_bucket AT TIME ZONE %(tz)s::text)::date
           END AS key_month,
           CASE WHEN %(by_user)s THEN w.seat_identity END AS key_user,
           CASE WHEN %(by_model)s THEN w.model_key END AS key_model,
           CASE WHEN %(by_terminal)s THEN w.terminal_type END AS key_terminal,
           CASE WHEN %(by_app_version)s THEN w.app_version END AS key_app_version,
           sc.resource_attributes ->> %(attr_0)s AS key_attr_0,
           sc.resource_attributes ->> %(attr_1)s AS key_attr_1,
           CASE WHEN %(by_session)s THEN w.session_id END AS key_session,
           NULL::text AS key_tool,
           NULL::text AS key_language,
           NULL::text AS key_source
      {sessions_join}
     WHERE w.org_id = %(org_id)s
       AND w.per_model = %(by_model)s
       AND w.last_bucket >= %(rollup_from)s
       AND w.first_bucket < %(rollup_to)s
       AND (%(session_ids)s::text[] IS NULL OR w.session_id = ANY (%(session_ids)s::text[]))
    UNION ALL
    SELECT * FROM day_rows WHERE NOT %(lone_days)s
),
run_baselines AS (
    -- The highest value each cumulative run had reached before its stretch of the window.
    SELECT r.series_hash, r.start_time_unix_nano, r.since, max(p.value) AS value
      FROM (SELECT DISTINCT series_hash, start_time_unix_nano, since
              FROM points
             WHERE kind = 'sum'
               AND temporality = 2) AS r
      JOIN metric_points AS p
        ON p.org_id = %(org_id)s
       AND p.series_hash = r.series_hash
       AND p.start_time_unix_nano = r.start_time_unix_nano
       AND p.time < r.since
     GROUP BY r.series_hash, r.start_time_unix_nano, r.since
),
point_deltas AS (
    SELECT session_id, time, metric_name, model, type, coalesce(type, decision) AS detail,
           tool_name, language, source, value AS delta
      FROM points
     WHERE kind = 'sum'
       AND temporality <> 2
    UNION ALL
    SELECT pt.session_id, pt.time, pt.metric_name, pt.model, pt.type,
           coalesce(pt.type, pt.decision), pt.tool_name, pt.language, pt.source,
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
      LEFT JOIN run_baselines AS rb USING (series_hash, start_time_unix_nano, since)
     WHERE pt.kind = 'gauge'
        OR pt.temporality = 2
    WINDOW series     AS (PARTITION BY pt.series_hash),
           run_so_far AS (PARTITION BY pt.series_hash, pt.start_time_unix_nano, pt.since
                          ORDER BY pt.time_unix_nano, pt.record_id ROWS UNBOUNDED PRECEDING),
           run_before AS (PARTITION BY pt.series_hash, pt.start_time_unix_nano, pt.since
                          ORDER BY pt.time_unix_nano, pt.record_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
facts AS MATERIALIZED (
    -- One row per event, per metric point, and per usage_rollup row, all with the columns
    -- of usage_rollup: `facts` counts what counts whatever the session's source,
    -- `api_requests` and `usage_points` what counts for one source only. Materialized:
    -- for a list of sessions the planner expects one and joins them in a nested loop,
    -- which, inlined, computed the metric deltas again for each (a page of the Admin-API-
    -- shaped report grouped by tool: 71 sessions, 275 ms; materialized, 20 ms).
    SELECT ev.session_id, ev.time, ev.model, ev.tool_name, NULL::text AS language, ev.source,
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
    SELECT d.session_id, d.time, d.model, d.tool_name, d.language, d.source,
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
    UNION ALL
    SELECT r.session_id, r.bucket, r.model, NULL, NULL, NULL, r.facts, r.api_requests,
           r.usage_points, r.event_cost_micros, r.event_input_tokens, r.event_output_tokens,
           r.event_cache_read_tokens, r.event_cache_creation_tokens, r.metric_cost_micros,
           r.metric_input_tokens, r.metric_output_tokens, r.metric_cache_read_tokens,
           r.metric_cache_creation_tokens, r.api_errors, r.api_retries_exhausted,
           r.tool_calls, r.tool_successes, r.tool_failures, r.tool_duration_ms, r.tool_timed,
           r.tool_accepts, r.tool_rejects, r.lines_added, r.lines_removed, r.commits,
           r.pull_requests, r.edits_accepted, r.edits_rejected, r.active_time_user_s,
           r.active_time_cli_s
      FROM usage_rollup AS r
     WHERE r.org_id = %(org_id)s
       -- The sessions not read whole: few, found through the index.
       AND r.session_id = ANY (ARRAY(SELECT session_id FROM span_rows WHERE NOT whole))
       AND r.bucket >= %(rollup_from)s
       AND r.bucket < %(rollup_to)s
),
keyed AS (
    -- The facts that count for their session's source, with cost and tokens from it, and
    -- the keys of the report's groups (each computed only when grouped by).
    SELECT f.session_id, sc.seat_identity, sc.not_a_session, f.model,
           CASE WHEN sc.has_api_requests THEN f.event_cost_micros
                ELSE f.metric_cost_micros END                                AS cost_micros,
           CASE WHEN sc.has_api_requests THEN f.event_input_tokens
                ELSE f.metric_input_tokens END                               AS input_tokens,
           CASE WHEN sc.has_api_requests THEN f.event_output_tokens
                ELSE f.metric_output_tokens END                              AS output_tokens,
           CASE WHEN sc.has_api_requests THEN f.event_cache_read_tokens
                ELSE f.metric_cache_read_tokens END                          AS cache_read_tokens,
           CASE WHEN sc.has_api_requests THEN f.event_cache_creation_tokens
                ELSE f.metric_cache_creation_tokens END                      AS cache_creation_tokens,
           CASE WHEN sc.has_api_requests THEN f.api_requests ELSE 0 END      AS api_requests,
           f.api_errors, f.api_retries_exhausted, f.tool_calls, f.tool_successes,
           f.tool_failures, f.tool_duration_ms, f.tool_timed, f.tool_accepts, f.tool_rejects,
           f.lines_added, f.lines_removed, f.commits, f.pull_requests, f.edits_accepted,
           f.edits_rejected, f.active_time_user_s, f.active_time_cli_s,
           CASE WHEN %(by_day)s
                THEN (f.time AT TIME ZONE %(tz)s::text)::date END AS key_day,
           CASE WHEN %(by_week)s
                THEN date_trunc('week', f.time AT TIME ZONE %(tz)s::text)::date END AS key_week,
           CASE WHEN %(by_month)s
                THEN date_trunc('month', f.time AT TIME ZONE %(tz)s::text)::date END AS key_month,
           sc.seat_identity AS key_user,
           CASE WHEN %(by_model)s THEN regexp_replace(f.model, '\[[^]]*\]$', '') END AS key_model,
           sc.terminal_type AS key_terminal,
           sc.app_version AS key_app_version,
           sc.resource_attributes ->> %(attr_0)s AS key_attr_0,
           sc.resource_attributes ->> %(attr_1)s AS key_attr_1,
           f.session_id AS key_session,
           CASE WHEN %(by_tool)s THEN f.tool_name END AS key_tool,
           CASE WHEN %(by_language)s THEN f.language END AS key_language,
           f.source AS key_source
      FROM facts AS f
      -- Each session's row looked up once, not once per fact: the facts of a month's
      -- edges are thousands, of a few hundred sessions.
      JOIN (SELECT *
              FROM scope
             WHERE scope.session_id = ANY (ARRAY(SELECT DISTINCT session_id FROM facts)))
           AS sc USING (session_id)
     WHERE f.facts + CASE WHEN sc.has_api_requests THEN f.api_requests
                          ELSE f.usage_points END > 0
),
per_session AS (
    -- Each session's figures per group: its cost is rounded per session, and it counts once.
    SELECT {key_columns} session_id, seat_identity, not_a_session,
           sum(cost_micros)           AS cost_micros,
           sum(input_tokens)          AS input_tokens,
           sum(output_tokens)         AS output_tokens,
           sum(cache_read_tokens)     AS cache_read_tokens,
           sum(cache_creation_tokens) AS cache_creation_tokens,
           sum(api_requests)          AS api_requests,
           sum(api_errors)            AS api_errors,
           sum(api_retries_exhausted) AS api_retries_exhausted,
           sum(tool_calls)            AS tool_calls,
           sum(tool_successes)        AS tool_successes,
           sum(tool_failures)         AS tool_failures,
           sum(tool_duration_ms)      AS tool_duration_ms,
           sum(tool_timed)            AS tool_timed,
           sum(tool_accepts)          AS tool_accepts,
           sum(tool_rejects)          AS tool_rejects,
           sum(lines_added)           AS lines_added,
           sum(lines_removed)         AS lines_removed,
           sum(commits)               AS commits,
           sum(pull_requests)         AS pull_requests,
           sum(edits_accepted)        AS edits_accepted,
           sum(edits_rejected)        AS edits_rejected,
           sum(active_time_user_s)    AS active_time_user_s,
           sum(active_time_cli_s)     AS active_time_cli_s
      FROM keyed
     GROUP BY {key_columns} session_id, seat_identity, not_a_session
),
rounded AS (
    -- Cumulative rounding: each group of a session gets round(running total) - round(previous
    -- running total), in group order, so a session's groups add up to its rounded total.
    SELECT ps.*,
           round(sum(ps.cost_micros) OVER running)
           - round(sum(ps.cost_micros) OVER running - coalesce(ps.cost_micros, 0)) AS whole_micros
      FROM per_session AS ps
    WINDOW running AS (PARTITION BY ps.session_id {group_order} ROWS UNBOUNDED PRECEDING)
),
crowded AS MATERIALIZED (
    -- Grouped by day and user, the groups that something besides usage_days adds to: the
    -- sessions summed here, and those read whole from session_usage. Few: a report's
    -- first and last days, and the days of sessions across midnight.
    SELECT key_day, key_user
      FROM keyed
     WHERE %(lone_days)s
    UNION
    SELECT key_day, key_user
      FROM span_rows
     WHERE %(lone_days)s
       AND whole
),
whole_groups AS (
    -- The sessions read whole, summed ahead per group and set of models (totals rows) or
    -- raw model (model rows). The sessions of a group share few of those, so this is
    -- about one row per group, and a group's model names come from these rows rather
    -- than from every session's.
    --
    -- `grouped` reads this CTE, or whole_sessions, as mojule/accounting.py names one in
    -- place of the braces (WHOLE_SESSIONS): where a group holds a handful of sessions (a
    -- person's day, one session), summing ahead makes hardly fewer rows, only one more
    -- aggregate, and the sessions go to the last one as they are. Only the CTE named is
    -- computed.
    SELECT {key_columns} models, model, sum(sessions) AS sessions,
           sum(whole_micros) AS whole_micros, sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens,
           sum(cache_creation_tokens) AS cache_creation_tokens,
           sum(api_requests) AS api_requests, sum(api_errors) AS api_errors,
           sum(api_retries_exhausted) AS api_retries_exhausted, sum(tool_calls) AS tool_calls,
           sum(tool_successes) AS tool_successes, sum(tool_failures) AS tool_failures,
           sum(tool_duration_ms) AS tool_duration_ms, sum(tool_timed) AS tool_timed,
           sum(tool_accepts) AS tool_accepts, sum(tool_rejects) AS tool_rejects,
           sum(lines_added) AS lines_added, sum(lines_removed) AS lines_removed,
           sum(commits) AS commits, sum(pull_requests) AS pull_requests,
           sum(edits_accepted) AS edits_accepted, sum(edits_rejected) AS edits_rejected,
           sum(active_time_user_s) AS active_time_user_s,
           sum(active_time_cli_s) AS active_time_cli_s
      FROM span_rows
     WHERE whole
     GROUP BY {key_columns} models, model
),
whole_sessions AS NOT MATERIALIZED (
    -- The sessions read whole, one row each, in the columns of whole_groups: those of
    -- span_rows, and grouped by day and user the days' rows that lone_days does not show
    -- as they are (its condition, negated).
    SELECT {key_columns} models, model, sessions, whole_micros,
           input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
           api_requests, api_errors, api_retries_exhausted, tool_calls, tool_successes,
           tool_failures, tool_duration_ms, tool_timed, tool_accepts, tool_rejects,
           lines_added, lines_removed, commits, pull_requests, edits_accepted,
           edits_rejected, active_time_user_s, active_time_cli_s
      FROM (SELECT * FROM span_rows WHERE whole
            UNION ALL
            SELECT *
              FROM day_rows AS d
             WHERE %(lone_days)s
               AND (d.key_user IS NULL
                    OR EXISTS (SELECT 1
                                 FROM crowded AS c
                                WHERE c.key_day = d.key_day
                                  AND c.key_user = d.key_user))) AS w
),
lone_days AS (
    -- Grouped by day and user alone, with days read from usage_days (lone_days, given by
    -- mojule/accounting.py), a seat's day there is its group's only row (one totals row
    -- per seat and day, usage_days_sum.sql) unless its group is crowded, or its seat
    -- unknown (a NULL key, which `crowded` cannot match): the group's figures are the
    -- row's, and adding them up again, for tens of thousands of groups, was most of the
    -- report's time.
    SELECT {key_columns} sessions, whole_micros, input_tokens, output_tokens,
           cache_read_tokens, cache_creation_tokens, api_requests, api_errors,
           api_retries_exhausted, tool_calls, tool_successes, tool_failures, tool_duration_ms,
           tool_timed, tool_accepts, tool_rejects, lines_added, lines_removed, commits,
           pull_requests, edits_accepted, edits_rejected, active_time_user_s,
           active_time_cli_s, models
      FROM day_rows AS w
     WHERE %(lone_days)s
       AND w.key_user IS NOT NULL
       AND NOT EXISTS (SELECT 1
                         FROM crowded AS c
                        WHERE c.key_day = w.key_day
                          AND c.key_user = w.key_user)
),
models AS (
    -- The raw model names of each group's sessions summed here (those read whole carry
    -- theirs: see `grouped`).
    SELECT {key_columns} model
      FROM keyed
     WHERE model IS NOT NULL
     GROUP BY {key_columns} model
),
grouped AS (
    -- What each group adds up: the sessions summed and rounded here, one row each; the
    -- sessions read whole, in a few rows (or one each) that carry their first model name,
    -- and a row for each other name; the number of its seats, each counted once, in one
    -- row; and the model names of the sessions summed here. The last aggregate makes the
    -- names distinct and sorts them as it sorts the rows by group: PostgreSQL 16 sorts by
    -- group and model once, where sorting each group's names apart cost 90 ms for 21,545
    -- groups. Grouped by user, a group is one seat's, its key: the seats are not counted
    -- here, and {active_users} counts the key (mojule/accounting.py, ACTIVE_USERS).
    SELECT {key_columns} (NOT not_a_session)::integer AS sessions, NULL::bigint AS seats,
           whole_micros,
           input_tokens,
           output_tokens, cache_read_tokens, cache_creation_tokens, api_requests, api_errors,
           api_retries_exhausted, tool_calls, tool_successes, tool_failures, tool_duration_ms,
           tool_timed, tool_accepts, tool_rejects, lines_added, lines_removed, commits,
           pull_requests, edits_accepted, edits_rejected, active_time_user_s,
           active_time_cli_s, NULL::text AS model
      FROM rounded
    UNION ALL
    SELECT {key_columns} sessions, NULL, whole_micros, input_tokens, output_tokens,
           cache_read_tokens, cache_creation_tokens, api_requests, api_errors,
           api_retries_exhausted, tool_calls, tool_successes, tool_failures, tool_duration_ms,
           tool_timed, tool_accepts, tool_rejects, lines_added, lines_removed, commits,
           pull_requests, edits_accepted, edits_rejected, active_time_user_s,
           active_time_cli_s, CASE WHEN models IS NULL THEN model ELSE models[1] END
      FROM {whole}
    UNION ALL
    -- The model names after the first of the sessions read whole (model rows have one).
    SELECT {key_columns} 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, used.model
      FROM {whole}
     CROSS JOIN LATERAL unnest(models[2:]) AS used (model)
     WHERE cardinality(models) > 1
    UNION ALL
    SELECT {key_columns} 0, count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL
      FROM (SELECT {key_columns} seat_identity FROM rounded
            UNION
            SELECT {key_columns} seat_identity FROM span_rows WHERE whole) AS seats
     WHERE NOT %(by_user)s
       AND seat_identity IS NOT NULL
     GROUP BY {group_by}
    UNION ALL
    SELECT {key_columns} 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, model
      FROM models
),
summed AS (
    -- Each group's figures: what `grouped` adds up per group, and the groups of lone_days.
    SELECT {key_columns} sum(whole_micros) AS whole_micros, sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens,
           sum(cache_creation_tokens) AS cache_creation_tokens, sum(sessions) AS sessions,
           sum(seats) AS seats, sum(api_requests) AS api_requests,
           sum(api_errors) AS api_errors, sum(api_retries_exhausted) AS api_retries_exhausted,
           sum(tool_calls) AS tool_calls, sum(tool_successes) AS tool_successes,
           sum(tool_failures) AS tool_failures, sum(tool_duration_ms) AS tool_duration_ms,
           sum(tool_timed) AS tool_timed, sum(tool_accepts) AS tool_accepts,
           sum(tool_rejects) AS tool_rejects, sum(lines_added) AS lines_added,
           sum(lines_removed) AS lines_removed, sum(commits) AS commits,
           sum(pull_requests) AS pull_requests, sum(edits_accepted) AS edits_accepted,
           sum(edits_rejected) AS edits_rejected,
           sum(active_time_user_s) AS active_time_user_s,
           sum(active_time_cli_s) AS active_time_cli_s,
           coalesce(array_agg(DISTINCT model ORDER BY model) FILTER (WHERE model IS NOT NULL),
                    ARRAY[]::text[]) AS models
      FROM grouped
     GROUP BY {group_by}
    UNION ALL
    -- In the types of the sums above: the two arms are then one list of rows to
    -- PostgreSQL, which merges them in key order, each read in that order, rather than
    -- sort them all again.
    SELECT {key_columns} whole_micros, input_tokens, output_tokens, cache_read_tokens,
           cache_creation_tokens, sessions::bigint, NULL::numeric, api_requests::numeric,
           api_errors::numeric, api_retries_exhausted::numeric, tool_calls::numeric,
           tool_successes::numeric, tool_failures::numeric, tool_duration_ms,
           tool_timed::numeric, tool_accepts::numeric, tool_rejects::numeric, lines_added,
           lines_removed, commits, pull_requests, edits_accepted, edits_rejected,
           active_time_user_s, active_time_cli_s, models
      FROM lone_days
)
-- The figures as shown: counts as whole numbers (a cast to bigint rounds, half away
-- from zero, as round() does), times to the millisecond.
SELECT {key_columns}
       round(coalesce(whole_micros, 0) / 1000000, 6)                     AS cost_usd,
       coalesce(input_tokens::bigint, 0)                                 AS input_tokens,
       coalesce(output_tokens::bigint, 0)                                AS output_tokens,
       coalesce(cache_read_tokens::bigint, 0)                            AS cache_read_tokens,
       coalesce(cache_creation_tokens::bigint, 0)                        AS cache_creation_tokens,
       coalesce(sessions, 0)::bigint                                     AS sessions,
       {active_users}                                                    AS active_users,
       coalesce(api_requests, 0)::bigint                                 AS api_requests,
       coalesce(api_errors, 0)::bigint                                   AS api_errors,
       coalesce(api_retries_exhausted, 0)::bigint                        AS api_retries_exhausted,
       coalesce(tool_calls, 0)::bigint                                   AS tool_calls,
       coalesce(tool_successes, 0)::bigint                               AS tool_successes,
       coalesce(tool_failures, 0)::bigint                                AS tool_failures,
       round(tool_duration_ms / nullif(tool_timed, 0), 3)::float8        AS tool_avg_duration_ms,
       coalesce(tool_accepts, 0)::bigint                                 AS tool_accepts,
       coalesce(tool_rejects, 0)::bigint                                 AS tool_rejects,
       coalesce(lines_added::bigint, 0)                                  AS lines_added,
       coalesce(lines_removed::bigint, 0)                                AS lines_removed,
       coalesce(commits::bigint, 0)                                      AS commits,
       coalesce(pull_requests::bigint, 0)                                AS pull_requests,
       coalesce(edits_accepted::bigint, 0)                               AS edits_accepted,
       coalesce(edits_rejected::bigint, 0)                               AS edits_rejected,
       round(coalesce(active_time_user_s, 0), 3)::float8                 AS active_time_user_s,
       round(coalesce(active_time_cli_s, 0), 3)::float8                  AS active_time_cli_s,
       -- The two as shown, added in decimal: the total shown is their sum.
       (round(coalesce(active_time_user_s, 0), 3)
        + round(coalesce(active_time_cli_s, 0), 3))::float8              AS active_time_s,
       models
  FROM summed
{order_by}
