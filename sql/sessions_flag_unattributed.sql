-- Takes the cost and tokens of unattributed sessions (migration 0008) from events once the
-- same install (user.id, migration 0020; any install of the seat when either side sent
-- none) of their seat had a session with api_request events within an hour of that UTC
-- day (metrics are stamped when exported, up to a minute or so after the requests they
-- count): those events already count what the unattributed session's metrics repeat, as
-- when a pipeline strips session.id from metrics alone. The seat's other machines are not
-- matched: Claude Code's OTEL_METRICS_INCLUDE_SESSION_ID=false drops session.id from its
-- events too, so their metrics repeat nothing. Returns the sessions it flagged, whose usage is then recomputed. Run by mojule/rollup.py at ingest, for some
-- seats, and by `mojule purge` for all (NULL), which catches what ingest skipped: rows
-- another transaction holds are skipped rather than waited for, so ingest never deadlocks.
UPDATE sessions AS u
   SET has_api_requests = true
  FROM (SELECT c.session_id
          FROM sessions AS c
         WHERE c.org_id = %(org_id)s
           AND c.unattributed
           AND NOT c.has_api_requests
           AND (%(seats)s::text[] IS NULL OR c.seat_identity = ANY (%(seats)s::text[]))
           AND EXISTS (SELECT 1
                         FROM sessions AS s
                        WHERE s.org_id = c.org_id
                          AND s.seat_identity = c.seat_identity
                          AND mojule_same_install(s.user_id, c.user_id)
                          AND NOT s.unattributed
                          AND s.has_api_requests
                          AND s.first_seen < date_trunc('day', c.first_seen, 'UTC')
                                             + interval '25 hours'
                          AND s.last_seen >= date_trunc('day', c.first_seen, 'UTC')
                                             - interval '1 hour')
           FOR UPDATE SKIP LOCKED) AS found
 WHERE u.org_id = %(org_id)s
   AND u.session_id = found.session_id
RETURNING u.session_id, u.first_seen
