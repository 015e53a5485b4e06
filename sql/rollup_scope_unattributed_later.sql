-- The later unattributed sessions (migration 0008) of the seats of some unattributed
-- sessions, with their first times: a cumulative run can go on past midnight into the
-- seat's next one, whose deltas a late point changes, as it changes later quarter hours
-- of any session. Run by mojule/rollup.py in the ingest transaction of metric points.
SELECT later.session_id, later.first_seen
  FROM sessions AS batch
  JOIN sessions AS later
    ON later.org_id = batch.org_id
   AND later.unattributed
   AND later.seat_identity IS NOT DISTINCT FROM batch.seat_identity
   AND later.first_seen > batch.first_seen
 WHERE batch.org_id = %(org_id)s
   AND batch.unattributed
   AND batch.session_id = ANY (%(session_ids)s::text[])
