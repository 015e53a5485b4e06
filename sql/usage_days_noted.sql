-- The org's summed days (before usage_days_built.built_through) that changed since
-- (usage_day_changes, migration 0021), in order.
SELECT DISTINCT c.day
  FROM usage_day_changes AS c
  JOIN usage_days_built AS b ON b.org_id = c.org_id
 WHERE c.org_id = %(org_id)s
   AND c.day < b.built_through
 ORDER BY c.day
