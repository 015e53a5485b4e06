-- Finds a member of the org, other than one, who also claims a seat: who signs in with it
-- (an email seat) or has it linked under any kind. A person's erasure refuses such a seat,
-- which a mistaken link would otherwise have it erase for someone else.
SELECT u.email
  FROM users AS u
 WHERE u.org_id = %(org_id)s
   AND u.user_id <> %(user_id)s
   AND (lower(u.email) = %(seat)s
        OR EXISTS (SELECT 1
                     FROM user_identities AS i
                    WHERE i.org_id = u.org_id
                      AND i.user_id = u.user_id
                      AND (i.value = %(seat)s
                           OR (i.kind = 'email' AND lower(i.value) = %(seat)s))))
 ORDER BY u.email
 LIMIT 1
