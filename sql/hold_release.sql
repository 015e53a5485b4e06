-- Releases an active legal hold; returns nothing when it is unknown or released already.
UPDATE legal_holds
   SET released_by = %(released_by)s,
       released_at = now()
 WHERE org_id = %(org_id)s
   AND hold_id = %(hold_id)s
   AND released_at IS NULL
RETURNING org_id, hold_id, session_id, seat_identity, reason, placed_by, placed_at,
          released_by, released_at
