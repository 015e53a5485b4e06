-- Lists a session's events in time order for the session detail, without their content:
-- content attributes appear only as the names in content_keys. One row more than the
-- limit tells the caller the timeline was cut.
SELECT time, event_name, event_sequence, prompt_id, model, tool_name, decision, success,
       duration_ms, status_code, content_keys
  FROM log_events
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
 ORDER BY time, event_sequence NULLS LAST, record_id
 LIMIT %(limit)s
