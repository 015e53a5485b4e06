-- Marks the sessions that sent an api_request among the log events ingest just inserted:
-- from now on their cost and tokens come from events. Run by mojule/rollup.py in the
-- ingest transaction, after the sessions were upserted; returns seats whose unattributed
-- sessions may now take cost and tokens from events too (sql/sessions_flag_unattributed.sql),
-- with whether a session of theirs was marked just now: those of the sessions marked, and
-- those of sessions marked before that have an unattributed session still counting its
-- own (the session may have just been resumed into a UTC day whose unattributed session
-- was not near it when its metrics came). The latter are few: most exporters send
-- session.id, and then a seat has no unattributed session at all; and only an unattributed
-- session of the days the session spans counts.
WITH requested AS (
    SELECT DISTINCT session_id
      FROM log_events_staging
     WHERE record_id = ANY (%(record_ids)s::bytea[])
       AND event_name = 'api_request'
),
marked AS (
    UPDATE sessions
       SET has_api_requests = true
     WHERE org_id = %(org_id)s
       AND NOT has_api_requests
       AND session_id IN (SELECT session_id FROM requested)
    RETURNING session_id, seat_identity
)
SELECT seat_identity, true AS just_marked
  FROM marked
 WHERE seat_identity IS NOT NULL
UNION ALL
SELECT DISTINCT s.seat_identity, false
  FROM sessions AS s
 WHERE s.org_id = %(org_id)s
   AND s.session_id IN (SELECT session_id FROM requested)
   AND s.session_id NOT IN (SELECT session_id FROM marked)
   AND NOT s.unattributed
   -- One sql/sessions_flag_unattributed.sql would flag for this session: of a UTC day
   -- from an hour before the session to an hour after. The first two bounds follow from
   -- that and let the (org_id, seat_identity, first_seen) index find it.
   AND EXISTS (SELECT 1
                 FROM sessions AS c
                WHERE c.org_id = s.org_id
                  AND c.seat_identity = s.seat_identity
                  AND c.unattributed
                  AND c.first_seen > s.first_seen - interval '25 hours'
                  AND c.first_seen < s.last_seen + interval '25 hours'
                  AND NOT c.has_api_requests
                  AND s.first_seen < date_trunc('day', c.first_seen, 'UTC') + interval '25 hours'
                  AND s.last_seen >= date_trunc('day', c.first_seen, 'UTC') - interval '1 hour')
