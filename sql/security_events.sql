-- Counts an org's security-relevant events in [from, to) for the admin Security page and
-- /api/v1/security-events: the questions Claude Code's monitoring guide sends to a SIEM
-- (permission mode changes, failed logins, plugin installs, tools denied, actions a policy
-- hook blocked, MCP servers that failed to connect, refused requests; their event names
-- in %(event_names)s, from mojule/security_events.py). One row per kind (is_total) and one
-- per kind and detail, each with its events, distinct users (events without a seat count
-- as one unknown user), the first %(named)s of those users by name ('' for the unknown
-- one), so that the page says who, and last time; which events count is mojule_security_notable()
-- (migration 0014). Details are plaintext usage attributes only (modes, actions, hook
-- events, tool names), never content; the (org_id, event_name, time) index finds the few
-- events.
SELECT found.event_name, GROUPING(found.detail) = 1 AS is_total, found.detail,
       count(*) AS events, count(DISTINCT coalesce(found.seat_identity, '')) AS seats,
       (array_agg(DISTINCT coalesce(found.seat_identity, '')
                  ORDER BY coalesce(found.seat_identity, '')))[1:%(named)s] AS named_seats,
       max(found.time) AS last_seen
  FROM (SELECT e.event_name, e.seat_identity, e.time,
               CASE e.event_name
                   WHEN 'permission_mode_changed' THEN e.attributes ->> 'to_mode'
                   WHEN 'auth' THEN e.attributes ->> 'action'
                   WHEN 'tool_decision' THEN e.tool_name
                   WHEN 'hook_execution_complete' THEN e.attributes ->> 'hook_event'
                   WHEN 'mcp_server_connection' THEN e.attributes ->> 'transport_type'
                   WHEN 'api_refusal' THEN e.model
               END AS detail
          FROM log_events AS e
         WHERE e.org_id = %(org_id)s
           AND e.time >= %(from)s
           AND e.time < %(to)s
           AND e.event_name = ANY (%(event_names)s::text[])
           AND mojule_security_notable(e.event_name, e.success, e.decision, e.attributes)) AS found
 GROUP BY GROUPING SETS ((found.event_name, found.detail), (found.event_name))
 ORDER BY found.event_name, is_total DESC, events DESC, found.detail
