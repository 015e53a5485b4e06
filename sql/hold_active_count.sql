-- Counts an org's active legal holds: an org that has any is not deleted.
SELECT count(*)
  FROM legal_holds
 WHERE org_id = %(org_id)s
   AND released_at IS NULL
