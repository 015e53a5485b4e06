-- Counts the recent failed sign-ins for an email of an org, from one address and from
-- anywhere, with the latest of each, for the sign-in throttle.
SELECT count(*) FILTER (WHERE source_ip = %(source_ip)s) AS from_address,
       max(failed_at) FILTER (WHERE source_ip = %(source_ip)s) AS last_from_address,
       count(*) AS from_anywhere,
       max(failed_at) AS last_from_anywhere
  FROM sign_in_failures
 WHERE org_id = %(org_id)s
   AND email = %(email)s
   AND failed_at > now() - make_interval(secs => %(window_s)s)
