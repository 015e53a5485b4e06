-- Removes an org's expired dashboard sessions; run at each sign-in to the org.
DELETE FROM dashboard_sessions
 WHERE org_id = %(org_id)s
   AND expires_at <= now()
