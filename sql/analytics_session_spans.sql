-- Lists a session's spans in start order for its trace view, without their content:
-- content attributes appear only as the names in content_keys (a span event's and link's
-- in theirs, as ingest stored them). `details` false (the dashboard's waterfall) leaves
-- out attributes and events but for the two it draws. `stored_bytes` is what a span's
-- attributes and events take as stored (read without unpacking them): a developer's
-- machine sends what it likes, so the caller stops reading at a budget. Spans sent without
-- session.id are not the session's: a trace id can be shared by processes an embedding
-- app started (TRACEPARENT). The first `limit` are chosen before anything is unpacked.
SELECT trace_id, span_id, parent_span_id, name, kind, start_time, start_time_unix_nano,
       end_time_unix_nano, status_code, model, tool_name, input_tokens, output_tokens,
       cache_read_tokens, cache_creation_tokens, success, content_keys,
       CASE WHEN %(details)s THEN attributes END AS attributes,
       CASE WHEN %(details)s THEN events END AS events,
       attributes ->> 'decision' AS decision,
       attributes ->> 'stop_reason' AS stop_reason,
       jsonb_array_length(links) AS link_count,
       pg_column_size(attributes) + pg_column_size(events) AS stored_bytes
  FROM (SELECT *
          FROM spans
         WHERE org_id = %(org_id)s
           AND session_id = %(session_id)s
         ORDER BY start_time_unix_nano, trace_id, span_id, start_time
         LIMIT %(limit)s) AS first_spans
 ORDER BY start_time_unix_nano, trace_id, span_id, start_time
