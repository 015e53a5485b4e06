-- Lists a session's spans in start order for its trace view, without their content:
-- content attributes appear only as the names in content_keys (a span event's and link's
-- in theirs, as ingest stored them). One row more than the limit tells the
-- caller the spans were cut. Spans sent without session.id are not the session's: a trace
-- id can be shared by processes an embedding app started (TRACEPARENT).
SELECT trace_id, span_id, parent_span_id, name, kind, start_time,
       start_time_unix_nano, end_time_unix_nano, duration_ms, status_code, model,
       tool_name, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
       success, content_keys, attributes, events,
       jsonb_array_length(links) AS link_count
  FROM spans
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
 ORDER BY start_time_unix_nano, trace_id, span_id
 LIMIT %(limit)s
