-- Deletes one bounded batch of an org's content older than its cutoff, oldest first from
-- where the last batch ended (keyset paging: content a hold keeps is read once per purge,
-- not once per batch), but none that an active legal hold keeps: the held sessions'
-- (mojule_held_sessions, migration 0032), and, while any seat is held, content sent
-- without a session id, which names no seat to tell it apart (mojule_some_seat_held,
-- migration 0034). Returns each deleted row's time; the purge repeats it, committing each
-- batch, until a batch comes back empty.
-- `batch` finds where the batch ends, the time of its last row; the delete then takes the
-- unheld rows up to that time (those of the same instant too) by their time alone. No
-- join back to the table by key: with the statistics of a partition just filled, the
-- planner once looked the batch's rows up by scanning it whole for each, and a purge of
-- 55,000 rows ran for minutes.
-- What holds keep is found once for both: the held sessions, and whether any seat is held.
WITH held AS MATERIALIZED (
    SELECT session_id FROM mojule_held_sessions(%(org_id)s)
),
seat_held AS MATERIALIZED (
    SELECT mojule_some_seat_held(%(org_id)s) AS some_seat
),
batch AS MATERIALIZED (
    SELECT c.time
      FROM content_values AS c
     WHERE c.org_id = %(org_id)s
       AND c.time < %(cutoff)s
       AND (%(after)s::timestamptz IS NULL OR c.time >= %(after)s)
       AND NOT EXISTS (SELECT 1 FROM held WHERE held.session_id = c.session_id)
       AND (c.session_id IS NOT NULL OR NOT (SELECT some_seat FROM seat_held))
     ORDER BY c.time
     LIMIT %(batch)s
)
DELETE FROM content_values AS c
 WHERE c.org_id = %(org_id)s
   AND c.time < %(cutoff)s
   AND (%(after)s::timestamptz IS NULL OR c.time >= %(after)s)
   AND c.time <= (SELECT max(time) FROM batch)
   AND NOT EXISTS (SELECT 1 FROM held WHERE held.session_id = c.session_id)
   AND (c.session_id IS NOT NULL OR NOT (SELECT some_seat FROM seat_held))
RETURNING c.time
