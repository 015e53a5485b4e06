-- Streams one request's log records into staging; column order = the row tuples of logs.py.
COPY log_events_staging (
    org_id, time, record_id, time_unix_nano, observed_time_unix_nano, session_id,
    event_name, event_sequence, prompt_id, seat_identity, user_email, user_account_uuid,
    user_id, organization_uuid, terminal_type, app_version, service_name, model,
    input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd,
    cost_usd_micros, duration_ms, tool_name, decision, decision_source, success, error_type,
    status_code, attempt, severity_number, severity_text, trace_id, span_id, scope_name,
    scope_version, content_keys, attributes, resource_attributes, otlp_extra
) FROM STDIN
