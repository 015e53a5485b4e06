-- 0006_session_usage.sql: each session's usage summed over its whole life, what usage
-- reports read for the sessions that lie wholly inside their window. Applied once by
-- `mojule init-db`, which fills the table from the usage rollup already stored.
--
-- A report of a large org otherwise folds hundreds of thousands of usage_rollup rows into
-- one row per session and group before it can round each session's cost; with a session's
-- rows summed ahead, a report reads one row per session (per raw model when it groups by
-- model) and only adds them up.
--
-- session_usage holds, per session, one row of its totals (per_model false, model NULL),
-- and one row per raw model name it used (per_model true). Each row is a pure function of
-- the session's usage_rollup rows and has_api_requests, computed by
-- mojule_session_usage_rows() below. Triggers on usage_rollup recompute a session's rows
-- whenever any of its rollup rows is written, in the same statement: whatever writes the
-- rollup (ingest, the benchmark's generator, a worker of the previous release still running
-- during an upgrade) keeps the totals current. Only the rollup rows a
-- report counts go in (facts, or the count of the session's source, not zero), with cost
-- and tokens already taken from the session's source.
--
-- Cost is rounded to micro-dollars as sql/analytics_usage.sql rounds it: cumulatively over
-- the session's groups in group order. Cumulative rounding telescopes: rounding each raw
-- model's row in (model name without suffix, model name) order sums, over any run of
-- consecutive rows, to what rounding that run as one group gives. So the model rows'
-- whole_micros add up to the session's rounded cost per model group, and the totals row's
-- to its rounded total, as the report would have computed them from the rollup.

CREATE TABLE session_usage (
    org_id                bigint      NOT NULL,
    session_id            text        NOT NULL,
    per_model             boolean     NOT NULL,  -- false: the session's totals row
    model                 text,                  -- raw name; NULL on the totals row, or none given
    model_key             text,                  -- model without a trailing [...] suffix
    -- The first and last quarter hours (usage_rollup buckets) of the session's counted rows.
    first_bucket          timestamptz NOT NULL,
    last_bucket           timestamptz NOT NULL,
    -- True on the row that counts the session once in its group: the totals row, and the
    -- first model row of each model_key.
    counted               boolean     NOT NULL,
    -- The totals row: the raw model names of the session's counted rows, sorted.
    models                text[],
    whole_micros          numeric,               -- cost, rounded as described above
    input_tokens          numeric,
    output_tokens         numeric,
    cache_read_tokens     numeric,
    cache_creation_tokens numeric,
    api_requests          bigint,
    api_errors            bigint,
    api_retries_exhausted bigint,
    tool_calls            bigint,
    tool_successes        bigint,
    tool_failures         bigint,
    tool_duration_ms      numeric,
    tool_timed            bigint,
    tool_accepts          bigint,
    tool_rejects          bigint,
    lines_added           numeric,
    lines_removed         numeric,
    commits               numeric,
    pull_requests         numeric,
    edits_accepted        numeric,
    edits_rejected        numeric,
    active_time_user_s    numeric,
    active_time_cli_s     numeric
);
CREATE UNIQUE INDEX session_usage_key
    ON session_usage (org_id, session_id, per_model, model) NULLS NOT DISTINCT;
-- Reports find the sessions of their window by their last quarter hour.
CREATE INDEX session_usage_window ON session_usage (org_id, per_model, last_bucket);
ALTER TABLE session_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON session_usage USING (org_id = mojule_current_org());
ALTER TABLE session_usage FORCE ROW LEVEL SECURITY;

-- Returns the session_usage rows of the sessions `for_sessions` of `for_org`, computed
-- from their usage_rollup rows by the rules of sql/analytics_usage.sql (see above).
CREATE FUNCTION mojule_session_usage_rows(for_org bigint, for_sessions text[])
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
           sum(r.active_time_cli_s) AS active_time_cli_s
      FROM sessions AS s
      JOIN usage_rollup AS r
        ON r.org_id = s.org_id
       AND r.session_id = s.session_id
     WHERE s.org_id = for_org
       AND s.session_id = ANY (for_sessions)
       AND r.facts + CASE WHEN s.has_api_requests THEN r.api_requests
                          ELSE r.usage_points END > 0
     GROUP BY r.session_id, r.model
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
       pull_requests, edits_accepted, edits_rejected, active_time_user_s, active_time_cli_s
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
       sum(active_time_user_s), sum(active_time_cli_s)
  FROM counted
 GROUP BY session_id
$$;

-- Recomputes the session_usage rows of the sessions whose usage_rollup rows the statement
-- wrote (`written`, its transition table). A statement that both inserts and updates rollup
-- rows (ingest's upsert) runs it twice; the second finds the same result.
CREATE FUNCTION mojule_session_usage_follow_rollup()
RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    org bigint;
    ids text[];
BEGIN
    FOR org, ids IN SELECT org_id, array_agg(DISTINCT session_id) FROM written GROUP BY org_id
    LOOP
        DELETE FROM session_usage WHERE org_id = org AND session_id = ANY (ids);
        INSERT INTO session_usage
        SELECT * FROM mojule_session_usage_rows(org, ids) ORDER BY session_id, per_model, model;
    END LOOP;
    RETURN NULL;
END;
$$;
CREATE TRIGGER session_usage_after_insert AFTER INSERT ON usage_rollup
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION mojule_session_usage_follow_rollup();
CREATE TRIGGER session_usage_after_update AFTER UPDATE ON usage_rollup
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION mojule_session_usage_follow_rollup();

-- Fill it from the rollup already stored, one org at a time under row-level security, as
-- the app would.
DO $$
DECLARE
    org bigint;
    ids text[];
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        SELECT array_agg(session_id) INTO ids FROM sessions WHERE org_id = org;
        IF ids IS NOT NULL THEN
            INSERT INTO session_usage SELECT * FROM mojule_session_usage_rows(org, ids);
        END IF;
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
