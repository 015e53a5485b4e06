-- The org's summed days that changed since (usage_day_changes, migration 0021), in order.
SELECT DISTINCT c.day
  FROM usage_day_changes AS c
 WHERE c.org_id = %(org_id)s
   AND c.day < %(built_through)s
 ORDER BY c.day
