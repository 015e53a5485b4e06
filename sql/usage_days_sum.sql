-- Sums an org's sessions that began and ended in one of `days` (UTC) into usage_days
-- (migration 0021): per seat and set of models, and per seat and raw model. Their
-- session_usage rows are found by their last quarter hour, which lies in the same day.
INSERT INTO usage_days
SELECT u.org_id, (u.first_bucket AT TIME ZONE 'UTC')::date, u.per_model, u.seat_identity,
       u.model, u.model_key, u.models,
       count(*) FILTER (WHERE u.counted AND NOT u.not_a_session),
       sum(u.whole_micros), sum(u.input_tokens), sum(u.output_tokens),
       sum(u.cache_read_tokens), sum(u.cache_creation_tokens), sum(u.api_requests),
       sum(u.api_errors), sum(u.api_retries_exhausted), sum(u.tool_calls),
       sum(u.tool_successes), sum(u.tool_failures), sum(u.tool_duration_ms),
       sum(u.tool_timed), sum(u.tool_accepts), sum(u.tool_rejects), sum(u.lines_added),
       sum(u.lines_removed), sum(u.commits), sum(u.pull_requests), sum(u.edits_accepted),
       sum(u.edits_rejected), sum(u.active_time_user_s), sum(u.active_time_cli_s)
  FROM session_usage AS u
 WHERE u.org_id = %(org_id)s
   AND u.last_bucket >= (SELECT min(d) FROM unnest(%(days)s::date[]) AS d)::timestamp
                        AT TIME ZONE 'UTC'
   AND u.last_bucket < ((SELECT max(d) FROM unnest(%(days)s::date[]) AS d) + 1)::timestamp
                       AT TIME ZONE 'UTC'
   AND (u.last_bucket AT TIME ZONE 'UTC')::date = ANY (%(days)s::date[])
   AND (u.first_bucket AT TIME ZONE 'UTC')::date = (u.last_bucket AT TIME ZONE 'UTC')::date
 GROUP BY u.org_id, (u.first_bucket AT TIME ZONE 'UTC')::date, u.per_model, u.seat_identity,
          u.model, u.model_key, u.models
