-- Streams an org's events in [from, to) without content (only the names of content
-- attributes), oldest first (events of one moment in their sequence, as the session
-- timeline has them), for /api/v1/export/events.ndjson and `mojule export events`.
-- Who an event belongs to is its session's seat, as for the sessions and usage
-- (analytics_sessions.sql): a record sent before its session's email arrived counts as the
-- email's, and one naming someone else inside another's session does not make it theirs.
-- Ingest files every event under a session (its seat's day's when it names none); one
-- stored without, before migration 0008, has its own seat. A member's export keeps only
-- their own seats' events, the user filter one seat's. Optionally only some event names
-- (a security review pulls permission_mode_changed, auth, plugin_installed, ...; the
-- (org_id, event_name, time) index finds them), and only those a security review counts
-- (notable_names: the kinds of the Security page, whose events count as
-- mojule_security_notable(), migration 0014, decides).
-- The cost and the attributes come as text: the export writes PostgreSQL's exact decimal
-- and JSON texts as they are, instead of making each into Python values and back.
SELECT e.time, e.session_id, e.event_name, e.event_sequence, e.prompt_id, e.seat_identity,
       e.user_email, e.user_account_uuid, e.user_id, e.terminal_type, e.app_version,
       e.model, e.input_tokens, e.output_tokens, e.cache_read_tokens, e.cache_creation_tokens,
       e.cost_usd::text AS cost_usd, e.cost_usd_micros, e.duration_ms, e.tool_name, e.decision,
       e.decision_source, e.success, e.error_type, e.status_code, e.attempt,
       e.content_keys, e.attributes::text AS attributes
  FROM log_events AS e
 WHERE e.org_id = %(org_id)s
   AND e.time >= %(from)s
   AND e.time < %(to)s
   -- A filtered export picks the seats' sessions first, then reads their events through
   -- log_events_session: looking up each event's session instead read the whole window.
   -- Seats are compared as stored, as in analytics_sessions.sql (emails in lower case).
   -- A session's first and last seen hold the times of all its records, so the window
   -- keeps every session with events in it.
   AND ((%(all_seats)s AND %(user)s::text IS NULL)
        OR e.session_id = ANY (ARRAY(
               SELECT s.session_id
                 FROM sessions AS s
                WHERE s.org_id = %(org_id)s
                  AND s.first_seen < %(to)s
                  AND s.last_seen >= %(from)s
                  AND (%(all_seats)s
                       OR s.seat_identity = ANY (%(seat_emails)s::text[])
                       OR s.seat_identity = ANY (%(seat_account_uuids)s::text[])
                       OR s.seat_identity = ANY (%(seat_user_ids)s::text[]))
                  AND (%(user)s::text IS NULL
                       OR s.seat_identity IN (%(user)s::text, lower(%(user)s::text)))))
        OR (e.session_id IS NULL
            AND (%(all_seats)s
                 OR e.seat_identity = ANY (%(seat_emails)s::text[])
                 OR e.seat_identity = ANY (%(seat_account_uuids)s::text[])
                 OR e.seat_identity = ANY (%(seat_user_ids)s::text[]))
            AND (%(user)s::text IS NULL
                 OR e.seat_identity IN (%(user)s::text, lower(%(user)s::text)))))
   AND (%(event_names)s::text[] IS NULL OR e.event_name = ANY (%(event_names)s::text[]))
   AND (%(notable_names)s::text[] IS NULL
        OR (e.event_name = ANY (%(notable_names)s::text[])
            AND mojule_security_notable(e.event_name, e.success, e.decision, e.attributes)))
 ORDER BY e.time, e.event_sequence NULLS LAST, e.record_id
