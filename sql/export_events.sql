-- Streams an org's events in [from, to) without content (only the names of content
-- attributes), oldest first (events of one moment in their sequence, as the session timeline
-- has them), for /api/v1/export/events.ndjson and `mojule export events`.
-- Who an event belongs to is its session's seat, as for the sessions and usage
-- (analytics_sessions.sql): a record sent before its session's email arrived counts as the
-- email's, and one naming someone else inside another's session does not make it theirs.
-- An event without a session row (no session.id) has its own seat. A member's export keeps
-- only their own seats' events, the user filter one seat's. Optionally only
-- some event names (a security review pulls permission_mode_changed, auth,
-- plugin_installed, ...; the (org_id, event_name, time) index finds them), only those a
-- security review counts (notable_names: the kinds of the Security page, whose events
-- count as mojule_security_notable(), migration 0014, decides), and one seat.
SELECT e.time, e.session_id, e.event_name, e.event_sequence, e.prompt_id, e.seat_identity,
       e.user_email, e.user_account_uuid, e.user_id, e.terminal_type, e.app_version,
       e.model, e.input_tokens, e.output_tokens, e.cache_read_tokens, e.cache_creation_tokens,
       e.cost_usd, e.cost_usd_micros, e.duration_ms, e.tool_name, e.decision,
       e.decision_source, e.success, e.error_type, e.status_code, e.attempt,
       e.content_keys, e.attributes
  FROM log_events AS e
 -- Looked up only when a filter needs it: an admin's whole export reads no sessions.
 CROSS JOIN LATERAL (SELECT CASE WHEN %(all_seats)s AND %(user)s::text IS NULL THEN NULL
                                 ELSE coalesce((SELECT s.seat_identity
                                                  FROM sessions AS s
                                                 WHERE s.org_id = e.org_id
                                                   AND s.session_id = e.session_id),
                                               e.seat_identity)
                            END AS seat_identity) AS owner
 WHERE e.org_id = %(org_id)s
   AND e.time >= %(from)s
   AND e.time < %(to)s
   AND (%(all_seats)s
        OR lower(owner.seat_identity) = ANY (%(seat_emails)s::text[])
        OR owner.seat_identity = ANY (%(seat_account_uuids)s::text[])
        OR owner.seat_identity = ANY (%(seat_user_ids)s::text[]))
   AND (%(event_names)s::text[] IS NULL OR e.event_name = ANY (%(event_names)s::text[]))
   AND (%(notable_names)s::text[] IS NULL
        OR (e.event_name = ANY (%(notable_names)s::text[])
            AND mojule_security_notable(e.event_name, e.success, e.decision, e.attributes)))
   AND (%(user)s::text IS NULL
        OR owner.seat_identity IN (%(user)s::text, lower(%(user)s::text)))
 ORDER BY e.time, e.event_sequence NULLS LAST, e.record_id
