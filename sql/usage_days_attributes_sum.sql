-- Sums an org's sessions that began and ended in one of `days` (UTC) into
-- usage_days_attributes (migration 0022): per seat, resource attributes but those of the
-- process, and set of models, as usage_days_sum.sql sums them per seat and set of models.
INSERT INTO usage_days_attributes
SELECT u.org_id, (u.first_bucket AT TIME ZONE 'UTC')::date, u.seat_identity,
       mojule_lasting_attributes(s.resource_attributes)::text::jsonb, u.models,
       count(*) FILTER (WHERE u.counted AND NOT u.not_a_session),
       sum(u.whole_micros), sum(u.input_tokens), sum(u.output_tokens),
       sum(u.cache_read_tokens), sum(u.cache_creation_tokens), sum(u.api_requests),
       sum(u.api_errors), sum(u.api_retries_exhausted), sum(u.tool_calls),
       sum(u.tool_successes), sum(u.tool_failures), sum(u.tool_duration_ms),
       sum(u.tool_timed), sum(u.tool_accepts), sum(u.tool_rejects), sum(u.lines_added),
       sum(u.lines_removed), sum(u.commits), sum(u.pull_requests), sum(u.edits_accepted),
       sum(u.edits_rejected), sum(u.active_time_user_s), sum(u.active_time_cli_s)
  FROM session_usage AS u
  JOIN sessions AS s
    ON s.org_id = u.org_id
   AND s.session_id = u.session_id
 WHERE u.org_id = %(org_id)s
   AND s.org_id = %(org_id)s
   AND NOT u.per_model
   AND u.last_bucket >= (SELECT min(d) FROM unnest(%(days)s::date[]) AS d)::timestamp
                        AT TIME ZONE 'UTC'
   AND u.last_bucket < ((SELECT max(d) FROM unnest(%(days)s::date[]) AS d) + 1)::timestamp
                       AT TIME ZONE 'UTC'
   AND (u.last_bucket AT TIME ZONE 'UTC')::date = ANY (%(days)s::date[])
   AND (u.first_bucket AT TIME ZONE 'UTC')::date = (u.last_bucket AT TIME ZONE 'UTC')::date
 -- The attributes as texts: jsonb takes 1 and 1.0 for equal, reports show them apart.
 GROUP BY u.org_id, (u.first_bucket AT TIME ZONE 'UTC')::date, u.seat_identity,
          mojule_lasting_attributes(s.resource_attributes)::text, u.models
