-- Serializes the ingests that write the unattributed sessions (migration 0008) of the same
-- seats, in seat order, until the transaction ends. Such an ingest may recompute the seat's
-- later sessions and flag others (mojule/rollup.py); without this lock two of them could
-- lock those rows in opposite orders and deadlock, or each miss the other's new rows. Run
-- by mojule/ingest.py before the batch's sessions are upserted.
SELECT pg_advisory_xact_lock(hashtextextended('mojule.unattributed:' || %(org_id)s::text
                                              || ':' || seats.seat, 0))
  FROM (SELECT DISTINCT coalesce(seat, '') AS seat
          FROM unnest(%(seats)s::text[]) AS seat
         ORDER BY 1
        OFFSET 0) AS seats
