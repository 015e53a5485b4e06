-- Removes an org's sums of the days it is about to sum again (mojule/usage_days.py).
DELETE FROM usage_days
 WHERE org_id = %(org_id)s
   AND day = ANY (%(days)s::date[])
