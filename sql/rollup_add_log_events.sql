-- Adds the log events ingest just inserted to the usage rollup. An event's figures are its
-- own, whatever else the session sent, so the sums of the new events are added to the rows
-- of their quarter hours (metric points, whose deltas depend on the points before them,
-- have their quarter hours recomputed instead: rollup_refresh.sql). The figures are those
-- mojule_usage_rollup_rows (migrations 0003, 0008, 0019) computes for events, so the rollup
-- still equals a recomputation from the raw rows. Run by mojule/rollup.py in the ingest
-- transaction, after the sessions were upserted (which locks them), while
-- log_events_staging holds the batch.
-- record_ids NULL: every staged row was new (the common case), and none is looked up.
INSERT INTO usage_rollup AS r
SELECT %(org_id)s, e.session_id,
       date_bin('15 minutes', e.time, TIMESTAMPTZ '2000-01-01 00:00:00+00'), e.model,
       sum((e.event_name <> 'api_request')::integer)::integer,
       sum((e.event_name = 'api_request')::integer)::integer,
       0,
       sum(CASE WHEN e.event_name = 'api_request'
                THEN mojule_request_cost_micros(e.cost_usd, e.cost_usd_micros) END),
       sum(CASE WHEN e.event_name = 'api_request' THEN e.input_tokens END),
       sum(CASE WHEN e.event_name = 'api_request' THEN e.output_tokens END),
       sum(CASE WHEN e.event_name = 'api_request' THEN e.cache_read_tokens END),
       sum(CASE WHEN e.event_name = 'api_request' THEN e.cache_creation_tokens END),
       NULL, NULL, NULL, NULL, NULL,
       nullif(sum((e.event_name = 'api_error')::integer), 0)::integer,
       nullif(sum((e.event_name = 'api_retries_exhausted')::integer), 0)::integer,
       nullif(sum((e.event_name = 'tool_result')::integer), 0)::integer,
       nullif(sum((e.event_name = 'tool_result' AND e.success IS TRUE)::integer), 0)::integer,
       nullif(sum((e.event_name = 'tool_result' AND e.success IS FALSE)::integer), 0)::integer,
       sum(CASE WHEN e.event_name = 'tool_result' THEN e.duration_ms::numeric END),
       nullif(sum((e.event_name = 'tool_result' AND e.duration_ms IS NOT NULL)::integer),
              0)::integer,
       nullif(sum((e.event_name = 'tool_decision' AND e.decision = 'accept')::integer),
              0)::integer,
       nullif(sum((e.event_name = 'tool_decision' AND e.decision = 'reject')::integer),
              0)::integer,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM log_events_staging AS e
 WHERE (%(record_ids)s::bytea[] IS NULL OR e.record_id = ANY (%(record_ids)s::bytea[]))
   AND e.session_id IS NOT NULL
   AND e.event_name IN ('api_request', 'api_error', 'api_retries_exhausted',
                        'tool_result', 'tool_decision')
 GROUP BY e.session_id, 3, e.model
 ORDER BY e.session_id, 3, e.model
    ON CONFLICT (org_id, session_id, bucket, model) DO UPDATE
   -- A sum of no value is NULL, as in the function: the sum of two is whichever has one.
   SET facts = r.facts + excluded.facts,
       api_requests = r.api_requests + excluded.api_requests,
       event_cost_micros = coalesce(r.event_cost_micros + excluded.event_cost_micros,
                                    excluded.event_cost_micros, r.event_cost_micros),
       event_input_tokens = coalesce(r.event_input_tokens + excluded.event_input_tokens,
                                     r.event_input_tokens, excluded.event_input_tokens),
       event_output_tokens = coalesce(r.event_output_tokens + excluded.event_output_tokens,
                                      r.event_output_tokens, excluded.event_output_tokens),
       event_cache_read_tokens = coalesce(
           r.event_cache_read_tokens + excluded.event_cache_read_tokens,
           r.event_cache_read_tokens, excluded.event_cache_read_tokens),
       event_cache_creation_tokens = coalesce(
           r.event_cache_creation_tokens + excluded.event_cache_creation_tokens,
           r.event_cache_creation_tokens, excluded.event_cache_creation_tokens),
       api_errors = coalesce(r.api_errors + excluded.api_errors,
                             r.api_errors, excluded.api_errors),
       api_retries_exhausted = coalesce(r.api_retries_exhausted + excluded.api_retries_exhausted,
                                        r.api_retries_exhausted, excluded.api_retries_exhausted),
       tool_calls = coalesce(r.tool_calls + excluded.tool_calls,
                             r.tool_calls, excluded.tool_calls),
       tool_successes = coalesce(r.tool_successes + excluded.tool_successes,
                                 r.tool_successes, excluded.tool_successes),
       tool_failures = coalesce(r.tool_failures + excluded.tool_failures,
                                r.tool_failures, excluded.tool_failures),
       tool_duration_ms = coalesce(r.tool_duration_ms + excluded.tool_duration_ms,
                                   r.tool_duration_ms, excluded.tool_duration_ms),
       tool_timed = coalesce(r.tool_timed + excluded.tool_timed,
                             r.tool_timed, excluded.tool_timed),
       tool_accepts = coalesce(r.tool_accepts + excluded.tool_accepts,
                               r.tool_accepts, excluded.tool_accepts),
       tool_rejects = coalesce(r.tool_rejects + excluded.tool_rejects,
                               r.tool_rejects, excluded.tool_rejects)
