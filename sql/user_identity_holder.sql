-- The email of the person a seat identity is linked to, if anyone's: what the Members
-- page says when an unlink names someone else's identity.
SELECT u.email
  FROM user_identities AS i
  JOIN users AS u ON u.org_id = i.org_id AND u.user_id = i.user_id
 WHERE i.org_id = %(org_id)s
   AND i.kind = %(kind)s
   AND i.value = %(value)s
