-- Deletes one bounded batch of an org's content older than its cutoff; the purge repeats
-- it, committing each batch, until a batch comes back short.
DELETE FROM content_values
 WHERE (org_id, signal, record_id, attribute, time) IN (
        SELECT org_id, signal, record_id, attribute, time
          FROM content_values
         WHERE org_id = %(org_id)s
           AND time < %(cutoff)s
         LIMIT %(batch)s)
