-- Counts an org's sessions of one seat: an erasure of a seat that has none is refused,
-- since a mistyped email would otherwise be "erased" and audited with nothing deleted.
SELECT count(*)
  FROM sessions
 WHERE org_id = %(org_id)s
   AND seat_identity = %(seat)s
