-- Sums an org's sessions that began and ended in one of `days` (UTC) into usage_days
-- (migrations 0021, 0022): per seat, one totals row with the raw model names of all its
-- sessions, and per seat and raw model. Their session_usage rows are found by their last
-- quarter hour, which lies in the same day. A seat's totals row is one row: a report
-- grouped by day and user shows it as it is, where it adds nothing else to its group
-- (analytics_usage.sql, lone_days).
WITH summed AS (
    SELECT u.org_id, (u.first_bucket AT TIME ZONE 'UTC')::date AS day, u.per_model,
           u.seat_identity, u.model, u.model_key,
           count(*) FILTER (WHERE u.counted AND NOT u.not_a_session) AS sessions,
           sum(u.whole_micros) AS whole_micros, sum(u.input_tokens) AS input_tokens,
           sum(u.output_tokens) AS output_tokens,
           sum(u.cache_read_tokens) AS cache_read_tokens,
           sum(u.cache_creation_tokens) AS cache_creation_tokens,
           sum(u.api_requests) AS api_requests, sum(u.api_errors) AS api_errors,
           sum(u.api_retries_exhausted) AS api_retries_exhausted,
           sum(u.tool_calls) AS tool_calls, sum(u.tool_successes) AS tool_successes,
           sum(u.tool_failures) AS tool_failures, sum(u.tool_duration_ms) AS tool_duration_ms,
           sum(u.tool_timed) AS tool_timed, sum(u.tool_accepts) AS tool_accepts,
           sum(u.tool_rejects) AS tool_rejects, sum(u.lines_added) AS lines_added,
           sum(u.lines_removed) AS lines_removed, sum(u.commits) AS commits,
           sum(u.pull_requests) AS pull_requests, sum(u.edits_accepted) AS edits_accepted,
           sum(u.edits_rejected) AS edits_rejected,
           sum(u.active_time_user_s) AS active_time_user_s,
           sum(u.active_time_cli_s) AS active_time_cli_s
      FROM session_usage AS u
     WHERE u.org_id = %(org_id)s
       AND u.last_bucket >= (SELECT min(d) FROM unnest(%(days)s::date[]) AS d)::timestamp
                            AT TIME ZONE 'UTC'
       AND u.last_bucket < ((SELECT max(d) FROM unnest(%(days)s::date[]) AS d) + 1)::timestamp
                           AT TIME ZONE 'UTC'
       AND (u.last_bucket AT TIME ZONE 'UTC')::date = ANY (%(days)s::date[])
       AND (u.first_bucket AT TIME ZONE 'UTC')::date = (u.last_bucket AT TIME ZONE 'UTC')::date
     GROUP BY u.org_id, (u.first_bucket AT TIME ZONE 'UTC')::date, u.per_model,
              u.seat_identity, u.model, u.model_key
)
INSERT INTO usage_days
SELECT org_id, day, per_model, seat_identity, model, model_key,
       -- A totals row's model names: those of its seat's model rows that day (a session's
       -- totals row names the models of its model rows, migration 0006), in order.
       CASE WHEN NOT per_model
            THEN coalesce(array_agg(model) FILTER (WHERE per_model AND model IS NOT NULL)
                              OVER seat_day,
                          ARRAY[]::text[])
       END,
       sessions, whole_micros, input_tokens, output_tokens, cache_read_tokens,
       cache_creation_tokens, api_requests, api_errors, api_retries_exhausted, tool_calls,
       tool_successes, tool_failures, tool_duration_ms, tool_timed, tool_accepts,
       tool_rejects, lines_added, lines_removed, commits, pull_requests, edits_accepted,
       edits_rejected, active_time_user_s, active_time_cli_s
  FROM summed
WINDOW seat_day AS (PARTITION BY day, seat_identity ORDER BY model
                    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
