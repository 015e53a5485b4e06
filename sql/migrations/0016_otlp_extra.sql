-- 0016_otlp_extra.sql: what OTLP sends that has no column of its own is kept too. Applied
-- once by `mojule init-db`; instant (a column without a default rewrites nothing).
--
-- The API reference has batches "persist as sent": a record's flags, a span's trace
-- state, dropped-attribute counts, a metric's description, and the schema URLs and
-- attributes of the resource and instrumentation scope were decoded, then dropped.
-- otlp_extra holds those that were sent (NULL when none was), usage only: content in a
-- scope's attributes is split out and stored encrypted as `scope.<key>`, as a
-- resource's is as `resource.<key>`.
ALTER TABLE log_events ADD COLUMN otlp_extra jsonb;
ALTER TABLE metric_points ADD COLUMN otlp_extra jsonb;
ALTER TABLE spans ADD COLUMN otlp_extra jsonb;
