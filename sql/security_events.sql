-- Counts an org's security-relevant events in [from, to) for the admin Security page: the
-- questions Claude Code's monitoring guide sends to a SIEM (permission mode changes, failed
-- logins, plugin installs, tools denied, actions a policy hook blocked, MCP servers that
-- failed to connect, refused requests). One row per kind (is_total) and one per kind and
-- detail, each with its events, distinct seats and last time. Details are plaintext usage
-- attributes only (modes, actions, hook events, tool names), never content; the
-- (org_id, event_name, time) index finds the few events.
SELECT found.event_name, GROUPING(found.detail) = 1 AS is_total, found.detail,
       count(*) AS events, count(DISTINCT found.seat_identity) AS seats,
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
           AND e.event_name IN ('permission_mode_changed', 'auth', 'plugin_installed',
                                'tool_decision', 'hook_execution_complete',
                                'mcp_server_connection', 'api_refusal')
           AND CASE e.event_name
                   WHEN 'auth' THEN e.success IS FALSE
                   WHEN 'tool_decision' THEN e.decision = 'reject'
                   -- A count sent as a number or as a numeric string.
                   WHEN 'hook_execution_complete'
                       THEN coalesce(e.attributes ->> 'num_blocking', '') ~ '^\s*0*[1-9][0-9]*\s*$'
                   WHEN 'mcp_server_connection' THEN e.attributes ->> 'status' = 'failed'
                   ELSE true
               END) AS found
 GROUP BY GROUPING SETS ((found.event_name, found.detail), (found.event_name))
 ORDER BY found.event_name, is_total DESC, events DESC, found.detail
