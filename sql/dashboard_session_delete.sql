-- Ends a dashboard session at sign-out.
DELETE FROM dashboard_sessions
 WHERE org_id = %(org_id)s
   AND session_digest = %(session_digest)s
