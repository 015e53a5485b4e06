-- The mirror of sql/sessions_flag_unattributed.sql: takes the cost and tokens of sessions
-- that sent no api_request events from events (they have none: zero) once the unattributed
-- session of their seat and install (user.id, migration 0020; any install of the seat
-- when either side sent none) of a day they overlap has api_request events of its own. An
-- exporter that strips session.id from log events but not from metrics sends each cost
-- twice, as events there and as metrics here; the unattributed session counts it. The price: the cost of another client on the same
-- install that sends metrics alone is not counted, for the whole of its sessions that
-- overlap such a day.
-- Returns the sessions it flagged, whose usage is then recomputed. Run by mojule/rollup.py
-- at ingest, for the unattributed sessions that just got api_request events
-- (unattributed_ids) or for the named sessions that just got metric points (session_ids),
-- and by `mojule purge` for all (both NULL); rows another transaction holds are skipped.
UPDATE sessions AS u
   SET has_api_requests = true
  FROM (SELECT s.session_id
          FROM sessions AS s
         WHERE s.org_id = %(org_id)s
           AND s.session_id IN (
               SELECT m.session_id
                 FROM sessions AS c
                 JOIN sessions AS m
                   ON m.org_id = c.org_id
                  AND m.seat_identity = c.seat_identity
                  AND mojule_same_install(m.user_id, c.user_id)
                  AND NOT m.unattributed
                  AND NOT m.has_api_requests
                  AND m.first_seen < date_trunc('day', c.first_seen, 'UTC') + interval '25 hours'
                  AND m.last_seen >= date_trunc('day', c.first_seen, 'UTC') - interval '1 hour'
                WHERE c.org_id = %(org_id)s
                  AND c.unattributed
                  AND (%(unattributed_ids)s::text[] IS NULL
                       OR c.session_id = ANY (%(unattributed_ids)s::text[]))
                  AND (%(session_ids)s::text[] IS NULL
                       OR m.session_id = ANY (%(session_ids)s::text[]))
                  -- Its own events: not a flag sql/sessions_flag_unattributed.sql set.
                  -- They all lie in its UTC day, which prunes the partitions read.
                  AND EXISTS (SELECT 1
                                FROM log_events AS e
                               WHERE e.org_id = c.org_id
                                 AND e.session_id = c.session_id
                                 AND e.time >= date_trunc('day', c.first_seen, 'UTC')
                                 AND e.time < date_trunc('day', c.first_seen, 'UTC')
                                              + interval '1 day'
                                 AND e.event_name = 'api_request'))
           FOR UPDATE SKIP LOCKED) AS found
 WHERE u.org_id = %(org_id)s
   AND u.session_id = found.session_id
RETURNING u.session_id, u.first_seen
