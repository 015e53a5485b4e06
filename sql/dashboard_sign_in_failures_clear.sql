-- Forgets an email's failed sign-ins from one address after it signs in successfully.
DELETE FROM sign_in_failures
 WHERE org_id = %(org_id)s
   AND email = %(email)s
   AND source_ip = %(source_ip)s
