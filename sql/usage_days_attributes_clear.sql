-- Removes an org's sums per resource attributes of the days it is about to sum again
-- (mojule/usage_days.py), as usage_days_clear.sql removes the others.
DELETE FROM usage_days_attributes
 WHERE org_id = %(org_id)s
   AND day = ANY (%(days)s::date[])
