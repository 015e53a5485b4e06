-- The sessions of the metric points ingest just inserted that the usage rollup counts,
-- with the earliest time of each one's; run by mojule/rollup.py in the ingest transaction,
-- while metric_points_staging (sql/metric_points_stage.sql) still holds the batch.
-- Gauges are never rolled up.
-- record_ids NULL: every staged row was new (the common case), and none is looked up.
SELECT session_id, min(time) AS since
  FROM metric_points_staging
 WHERE (%(record_ids)s::bytea[] IS NULL OR record_id = ANY (%(record_ids)s::bytea[]))
   AND session_id IS NOT NULL
   AND metric_name IN ('claude_code.session.count', 'claude_code.cost.usage',
                       'claude_code.token.usage', 'claude_code.lines_of_code.count',
                       'claude_code.commit.count', 'claude_code.pull_request.count',
                       'claude_code.code_edit_tool.decision', 'claude_code.active_time.total')
   AND kind = 'sum'
 GROUP BY session_id
 ORDER BY session_id
