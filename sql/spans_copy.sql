-- Streams one request's spans into staging; column order = the row tuples of traces.py.
COPY spans_staging (
    org_id, start_time, trace_id, span_id, record_id, parent_span_id, name, kind,
    start_time_unix_nano, end_time_unix_nano, duration_ms, status_code, session_id,
    seat_identity, user_email, user_account_uuid, user_id, organization_uuid, terminal_type,
    app_version, service_name, model, tool_name, input_tokens, output_tokens,
    cache_read_tokens, cache_creation_tokens, success, scope_name, scope_version,
    content_keys, attributes, events, links, resource_attributes, otlp_extra
) FROM STDIN
