-- 0014_security_notable_events.sql: one definition of which events a security review
-- counts, shared by the Security page's counts (sql/security_events.sql) and the events
-- export's `notable` filter (sql/export_events.sql), so that a kind's download holds
-- exactly the events its count counted. Applied once by `mojule init-db`; instant.
--
-- Of the kinds in mojule/security_events.py, only failed logins and logouts, denied tool
-- uses, hook runs that blocked an action and failed MCP connections count; every event of
-- the other kinds (permission mode changes, plugin installs, refusals) does, and so does
-- any other event. A simple IMMUTABLE SQL function: the planner inlines it.
CREATE FUNCTION mojule_security_notable(event_name text, success boolean, decision text,
                                        attributes jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE event_name
           WHEN 'auth' THEN success IS FALSE
           WHEN 'tool_decision' THEN decision = 'reject'
           -- A count sent as an integer, a double (1.0) or a numeric string.
           WHEN 'hook_execution_complete' THEN
               CASE WHEN attributes ->> 'num_blocking' ~ '^\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*$'
                    THEN trim(attributes ->> 'num_blocking')::numeric > 0
                    ELSE false
               END
           WHEN 'mcp_server_connection' THEN attributes ->> 'status' = 'failed'
           ELSE true
       END
$$;
