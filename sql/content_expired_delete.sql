-- Deletes one bounded batch of an org's content older than its cutoff, oldest first from
-- where the last batch ended (keyset paging: content a hold keeps is read once per purge,
-- not once per batch), but none that an active legal hold keeps: the held sessions'
-- (mojule_held_sessions, migration 0032), and, while any seat is held, content sent
-- without a session id, which names no seat to tell it apart. Returns each deleted row's
-- time; the purge repeats it, committing each batch, until a batch comes back short.
DELETE FROM content_values
 WHERE (org_id, signal, record_id, attribute, time) IN (
        SELECT c.org_id, c.signal, c.record_id, c.attribute, c.time
          FROM content_values AS c
         WHERE c.org_id = %(org_id)s
           AND c.time < %(cutoff)s
           AND (%(after)s::timestamptz IS NULL OR c.time >= %(after)s)
           AND NOT EXISTS (SELECT 1
                             FROM mojule_held_sessions(%(org_id)s) AS held
                            WHERE held.session_id = c.session_id)
           AND (c.session_id IS NOT NULL
                OR NOT EXISTS (SELECT 1
                                 FROM legal_holds AS h
                                WHERE h.org_id = %(org_id)s
                                  AND h.released_at IS NULL
                                  AND h.seat_identity IS NOT NULL))
         ORDER BY c.time
         LIMIT %(batch)s)
RETURNING time
