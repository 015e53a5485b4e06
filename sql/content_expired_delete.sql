-- Deletes one bounded batch of an org's content older than its cutoff, but none that an
-- active legal hold keeps (mojule_held_sessions, migration 0032); the purge repeats it,
-- committing each batch, until a batch comes back short.
DELETE FROM content_values
 WHERE (org_id, signal, record_id, attribute, time) IN (
        SELECT c.org_id, c.signal, c.record_id, c.attribute, c.time
          FROM content_values AS c
         WHERE c.org_id = %(org_id)s
           AND c.time < %(cutoff)s
           AND NOT EXISTS (SELECT 1
                             FROM mojule_held_sessions(%(org_id)s) AS held
                            WHERE held.session_id = c.session_id)
         LIMIT %(batch)s)
