-- Counts an org's content older than its cutoff that active legal holds keep from the
-- purge (mojule_held_sessions, migration 0032): the purge reports it.
SELECT count(*)
  FROM content_values AS c
 WHERE c.org_id = %(org_id)s
   AND c.time < %(cutoff)s
   AND EXISTS (SELECT 1
                 FROM mojule_held_sessions(%(org_id)s) AS held
                WHERE held.session_id = c.session_id)
