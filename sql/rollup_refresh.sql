-- Recomputes the usage_rollup rows of some sessions from the raw rows, each from the
-- quarter hour holding its `since` on, and writes them over the stored ones (a quarter
-- hour only ever gains rows, so none disappears; rollup_clear.sql has usually just deleted
-- them). Run by mojule/rollup.py at ingest, and
-- by the usage benchmark's generator, after rollup_lock_sessions.sql.
INSERT INTO usage_rollup
SELECT *
  FROM mojule_usage_rollup_rows(%(org_id)s, %(session_ids)s::text[], %(since)s::timestamptz[])
 ORDER BY session_id, bucket, model
    ON CONFLICT (org_id, session_id, bucket, model) DO UPDATE
   SET facts                        = excluded.facts,
       api_requests                 = excluded.api_requests,
       usage_points                 = excluded.usage_points,
       event_cost_micros            = excluded.event_cost_micros,
       event_input_tokens           = excluded.event_input_tokens,
       event_output_tokens          = excluded.event_output_tokens,
       event_cache_read_tokens      = excluded.event_cache_read_tokens,
       event_cache_creation_tokens  = excluded.event_cache_creation_tokens,
       metric_cost_micros           = excluded.metric_cost_micros,
       metric_input_tokens          = excluded.metric_input_tokens,
       metric_output_tokens         = excluded.metric_output_tokens,
       metric_cache_read_tokens     = excluded.metric_cache_read_tokens,
       metric_cache_creation_tokens = excluded.metric_cache_creation_tokens,
       api_errors                   = excluded.api_errors,
       api_retries_exhausted        = excluded.api_retries_exhausted,
       tool_calls                   = excluded.tool_calls,
       tool_successes               = excluded.tool_successes,
       tool_failures                = excluded.tool_failures,
       tool_duration_ms             = excluded.tool_duration_ms,
       tool_timed                   = excluded.tool_timed,
       tool_accepts                 = excluded.tool_accepts,
       tool_rejects                 = excluded.tool_rejects,
       lines_added                  = excluded.lines_added,
       lines_removed                = excluded.lines_removed,
       commits                      = excluded.commits,
       pull_requests                = excluded.pull_requests,
       edits_accepted               = excluded.edits_accepted,
       edits_rejected               = excluded.edits_rejected,
       active_time_user_s           = excluded.active_time_user_s,
       active_time_cli_s            = excluded.active_time_cli_s
