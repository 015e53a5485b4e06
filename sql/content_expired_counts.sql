-- Counts an org's content older than its cutoff: what the purge removes (`purgeable`) and
-- what active legal holds keep from it (`held`), as content_expired_delete.sql decides: the
-- held sessions' content (mojule_held_sessions, migration 0032), and, while any seat is
-- held, content sent without a session id (mojule_some_seat_held, migration 0034).
-- `mojule purge --dry-run` reports both; a purge, after its deletes, the held.
WITH held AS MATERIALIZED (
    SELECT DISTINCT session_id FROM mojule_held_sessions(%(org_id)s)
),
seat_held AS MATERIALIZED (
    SELECT mojule_some_seat_held(%(org_id)s) AS some_seat
),
expired AS (
    SELECT held.session_id IS NOT NULL
           OR (c.session_id IS NULL AND (SELECT some_seat FROM seat_held)) AS kept
      FROM content_values AS c
      LEFT JOIN held ON held.session_id = c.session_id
     WHERE c.org_id = %(org_id)s
       AND c.time < %(cutoff)s
)
SELECT count(*) FILTER (WHERE NOT kept) AS purgeable,
       count(*) FILTER (WHERE kept) AS held
  FROM expired
