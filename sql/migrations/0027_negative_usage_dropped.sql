-- 0027_negative_usage_dropped.sql: the negative figures stored before ingest refused them
-- are dropped as ingest now drops them, and the sessions they were counted in are listed
-- for recounting. Applied once by `mojule init-db`: it reads the three record tables once
-- each, while ingest waits, and init-db then recounts the sessions listed (usage_recount,
-- migration 0019).
--
-- Whoever held an org's ingest token could send a negative cost, token count or
-- duration, and the accounting subtracted it from the org's spend, tokens, lines or
-- active time. Ingest now skips a counter's negative point (any monotonic sum, and Claude Code's
-- usage metrics of any kind: mojule/metrics.py, CLAUDE_CODE_COUNTERS) and leaves a log
-- record's or span's negative figure out of its column, keeping the record
-- (mojule/usage.py, count, amount and duration). This does the same to what is stored:
-- such a point is deleted with any content it carried, such a figure set to NULL.
DO $$
DECLARE
    org bigint;
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);

        WITH cleared AS (
            UPDATE log_events AS e
               SET input_tokens = CASE WHEN e.input_tokens >= 0 THEN e.input_tokens END,
                   output_tokens = CASE WHEN e.output_tokens >= 0 THEN e.output_tokens END,
                   cache_read_tokens = CASE WHEN e.cache_read_tokens >= 0
                                            THEN e.cache_read_tokens END,
                   cache_creation_tokens = CASE WHEN e.cache_creation_tokens >= 0
                                                THEN e.cache_creation_tokens END,
                   cost_usd = CASE WHEN e.cost_usd >= 0 THEN e.cost_usd END,
                   cost_usd_micros = CASE WHEN e.cost_usd_micros >= 0
                                          THEN e.cost_usd_micros END,
                   duration_ms = CASE WHEN e.duration_ms >= 0 THEN e.duration_ms END
             WHERE e.org_id = org
               AND (e.input_tokens < 0 OR e.output_tokens < 0 OR e.cache_read_tokens < 0
                    OR e.cache_creation_tokens < 0 OR e.cost_usd < 0
                    OR e.cost_usd_micros < 0 OR e.duration_ms < 0)
            RETURNING e.session_id)
        INSERT INTO usage_recount (org_id, session_id)
        SELECT DISTINCT org, session_id FROM cleared WHERE session_id IS NOT NULL
            ON CONFLICT DO NOTHING;

        WITH dropped AS (
            DELETE FROM metric_points AS m
             WHERE m.org_id = org
               AND m.value < 0
               AND ((m.kind = 'sum' AND m.is_monotonic)
                    OR m.metric_name IN ('claude_code.session.count', 'claude_code.cost.usage',
                                         'claude_code.token.usage',
                                         'claude_code.lines_of_code.count',
                                         'claude_code.commit.count',
                                         'claude_code.pull_request.count',
                                         'claude_code.code_edit_tool.decision',
                                         'claude_code.active_time.total'))
            RETURNING m.session_id, m.record_id, m.time, m.metric_name, m.attributes),
        -- A session.count point of start_type agents_view marked its session as the
        -- `claude agents` process, no session (0009): a negative one no longer does.
        -- (This statement still sees the deleted points: the negative ones are left out.)
        unmarked AS (
            UPDATE sessions AS s
               SET agents_view = false
             WHERE s.org_id = org
               AND s.agents_view
               AND s.session_id IN (SELECT d.session_id
                                      FROM dropped AS d
                                     WHERE d.metric_name = 'claude_code.session.count'
                                       AND (d.attributes ->> 'start_type') = 'agents_view')
               AND NOT EXISTS (SELECT 1
                                 FROM metric_points AS m
                                WHERE m.org_id = org
                                  AND m.session_id = s.session_id
                                  AND m.metric_name = 'claude_code.session.count'
                                  AND (m.attributes ->> 'start_type') = 'agents_view'
                                  AND coalesce(m.value, 0) >= 0)),
        content_dropped AS (
            DELETE FROM content_values AS c
             USING dropped AS d
             WHERE c.org_id = org
               AND c.signal = 'metrics'
               AND c.record_id = d.record_id
               AND c.time = d.time)
        INSERT INTO usage_recount (org_id, session_id)
        SELECT DISTINCT org, session_id FROM dropped WHERE session_id IS NOT NULL
            ON CONFLICT DO NOTHING;

        -- Spans are not counted in usage: their figures are only shown, so nothing is
        -- listed for recounting.
        UPDATE spans AS s
           SET input_tokens = CASE WHEN s.input_tokens >= 0 THEN s.input_tokens END,
               output_tokens = CASE WHEN s.output_tokens >= 0 THEN s.output_tokens END,
               cache_read_tokens = CASE WHEN s.cache_read_tokens >= 0
                                        THEN s.cache_read_tokens END,
               cache_creation_tokens = CASE WHEN s.cache_creation_tokens >= 0
                                            THEN s.cache_creation_tokens END,
               -- As ingest does when a span names no duration: its own end less start.
               duration_ms = CASE WHEN s.duration_ms >= 0 THEN s.duration_ms
                                  WHEN s.end_time_unix_nano >= s.start_time_unix_nano
                                  THEN (s.end_time_unix_nano - s.start_time_unix_nano) / 1e6
                             END
         WHERE s.org_id = org
           AND (s.input_tokens < 0 OR s.output_tokens < 0 OR s.cache_read_tokens < 0
                OR s.cache_creation_tokens < 0 OR s.duration_ms < 0);
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
