-- Forgets the changes to an org's days just summed that the summing saw: those of
-- transactions its snapshot sees as done. A change still in flight keeps its day noted.
DELETE FROM usage_day_changes
 WHERE org_id = %(org_id)s
   AND day = ANY (%(days)s::date[])
   AND pg_visible_in_snapshot(xact, pg_current_snapshot())
