-- Streams one request's metric points into staging; column order = the row tuples of metrics.py.
COPY metric_points_staging (
    org_id, time, record_id, series_hash, metric_name, kind, temporality, is_monotonic,
    unit, start_time_unix_nano, time_unix_nano, value, distribution, session_id,
    seat_identity, user_email, user_account_uuid, user_id, organization_uuid, terminal_type,
    app_version, service_name, model, type, tool_name, decision, language, scope_name,
    scope_version, content_keys, attributes, resource_attributes, otlp_extra
) FROM STDIN
