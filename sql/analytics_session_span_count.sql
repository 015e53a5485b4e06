-- Counts a session's spans, so its page links its trace view only when there is one.
SELECT count(*) AS spans
  FROM spans
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
