-- Serializes the ingests that write the unattributed sessions (migration 0008) of the same
-- seats, in one order, until the transaction ends. Such an ingest may recompute the seat's
-- later sessions and flag others (mojule/rollup.py); without this lock two of them could
-- lock those rows in opposite orders and deadlock, or each miss the other's new rows.
-- An ingest of the seats' named sessions' events (%(readers)s) takes the lock shared: it
-- runs beside others of its kind, but not beside a writer, so that whichever commits
-- second sees the other's rows when it checks the seat's flags (a session resumed into a
-- new UTC day, and that day's unattributed session). A seat in both lists is written.
-- Run by mojule/ingest.py before the batch's sessions are upserted, so that no session
-- row is held while it waits.
SELECT CASE WHEN seats.writes
            THEN pg_advisory_xact_lock(seats.lock_key)
            ELSE pg_advisory_xact_lock_shared(seats.lock_key)
       END
  FROM (SELECT hashtextextended('mojule.unattributed:' || %(org_id)s::text || ':' || seat, 0)
                   AS lock_key,
               bool_or(writes) AS writes
          FROM (SELECT coalesce(seat, '') AS seat, true AS writes
                  FROM unnest(%(seats)s::text[]) AS seat
                UNION ALL
                SELECT coalesce(seat, ''), false
                  FROM unnest(%(readers)s::text[]) AS seat) AS wanted
         GROUP BY seat
         -- One order for every ingest, so that no two wait for each other's locks.
         ORDER BY lock_key
        OFFSET 0) AS seats
