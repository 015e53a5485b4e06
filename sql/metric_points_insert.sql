-- Moves staged metric points into place; those already stored (a retried export) are left
-- alone. Returns the ids of the records that were new.
INSERT INTO metric_points (
       org_id, time, record_id, series_hash, metric_name, kind, temporality, is_monotonic,
       unit, start_time_unix_nano, time_unix_nano, value, distribution, session_id,
       seat_identity, user_email, user_account_uuid, user_id, organization_uuid, terminal_type,
       app_version, service_name, model, type, tool_name, decision, language, scope_name,
       scope_version, content_keys, attributes, resource_attributes, otlp_extra
)
SELECT org_id, time, record_id, series_hash, metric_name, kind, temporality, is_monotonic,
       unit, start_time_unix_nano, time_unix_nano, value, distribution, session_id,
       seat_identity, user_email, user_account_uuid, user_id, organization_uuid, terminal_type,
       app_version, service_name, model, type, tool_name, decision, language, scope_name,
       scope_version, content_keys, attributes, resource_attributes, otlp_extra
  FROM metric_points_staging
    ON CONFLICT DO NOTHING
RETURNING record_id
