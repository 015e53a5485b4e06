-- Removes an org's failed sign-ins older than the throttle window; they no longer count.
DELETE FROM sign_in_failures
 WHERE org_id = %(org_id)s
   AND failed_at <= now() - make_interval(secs => %(window_s)s)
