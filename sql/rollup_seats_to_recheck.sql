-- Lists the seats of the named sessions with api_request events among the log events
-- ingest just inserted that have an unattributed session still counting its own cost
-- beside them: one sql/sessions_flag_unattributed.sql would flag for the session, of a
-- UTC day from an hour before the session to an hour after. A session flagged before this
-- batch may have just been resumed into a UTC day whose unattributed session was not near
-- it when its metrics came. Run by mojule/rollup.py in the ingest transaction, after
-- rollup_flag_sessions.sql, only in orgs that have unattributed sessions; the first two
-- bounds follow from the day's and let the (org_id, seat_identity, first_seen) index
-- find the session.
-- record_ids NULL: every staged row was new (the common case), and none is looked up.
SELECT DISTINCT s.seat_identity
  FROM sessions AS s
 WHERE s.org_id = %(org_id)s
   AND s.session_id IN (SELECT session_id
                          FROM log_events_staging
                         WHERE (%(record_ids)s::bytea[] IS NULL OR record_id = ANY (%(record_ids)s::bytea[]))
                           AND event_name = 'api_request')
   AND NOT s.unattributed
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
