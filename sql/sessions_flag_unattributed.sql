-- Takes the cost and tokens of unattributed sessions (migration 0008) from events once their
-- seat had a session with api_request events that UTC day: those events already count what
-- the unattributed session's metrics repeat. Run by mojule/rollup.py in the ingest
-- transaction, for the seats whose sessions it just upserted or flagged; returns the
-- sessions it flagged, whose usage is then recomputed from their first row on.
UPDATE sessions AS u
   SET has_api_requests = true
 WHERE u.org_id = %(org_id)s
   AND u.seat_identity = ANY (%(seats)s::text[])
   AND u.unattributed
   AND NOT u.has_api_requests
   AND EXISTS (SELECT 1
                 FROM sessions AS s
                WHERE s.org_id = u.org_id
                  AND s.seat_identity = u.seat_identity
                  AND NOT s.unattributed
                  AND s.has_api_requests
                  AND s.first_seen < date_trunc('day', u.first_seen, 'UTC') + interval '1 day'
                  AND s.last_seen >= date_trunc('day', u.first_seen, 'UTC'))
RETURNING u.session_id, u.first_seen
