-- Lists a session's events and spans in time order, with the names of their content
-- attributes, for the audited content read.
SELECT 'logs' AS signal, time, event_name AS name, record_id, content_keys
  FROM log_events
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
UNION ALL
SELECT 'traces' AS signal, start_time AS time, name, record_id, content_keys
  FROM spans
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
UNION ALL
SELECT 'metrics' AS signal, time, metric_name AS name, record_id, content_keys
  FROM metric_points
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
   AND content_keys <> '{}'
 ORDER BY time, signal, name
