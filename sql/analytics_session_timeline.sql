-- Lists a session's events in time order for the session detail, without their content:
-- content attributes appear only as the names in content_keys. One row more than the
-- limit tells the caller the timeline was cut. An API request carries what it cost (in
-- dollars, rounded to the micro-dollar from the figure the accounting reads: migration
-- 0019) and its tokens; an API error its type and attempt.
SELECT time, event_name, event_sequence, prompt_id, model, tool_name, decision, success,
       duration_ms, status_code, error_type, attempt,
       CASE WHEN event_name = 'api_request'
            THEN round(mojule_request_cost_micros(cost_usd, cost_usd_micros) / 1000000, 6)
       END AS cost_usd,
       input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, content_keys
  FROM log_events
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
 ORDER BY time, event_sequence NULLS LAST, record_id
 LIMIT %(limit)s
