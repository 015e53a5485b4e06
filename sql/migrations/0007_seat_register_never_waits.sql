-- 0007_seat_register_never_waits.sql: the seat register's trigger (0005) no longer waits on
-- another transaction registering the same new seat. Applied once by `mojule init-db`.
--
-- An insert that meets another transaction's uncommitted insert of the same key waits for
-- that transaction to end, ON CONFLICT DO NOTHING included. Two ingests that each register
-- a new seat the other is registering too (a Collector's batches touch many seats, in
-- session order, not seat order) then wait on each other; PostgreSQL breaks the deadlock by
-- failing one of them, and that export gets a 503 and is sent again.
--
-- Now a new seat is registered only by the transaction that holds its advisory lock, taken
-- without waiting; the others skip it. Should the holder roll back, the seat is registered
-- by a later ingest (any that moves one of its sessions' last_seen fires the trigger).
-- The two-key form keeps these locks apart from the single-key ones used elsewhere; two
-- seats whose digests share their first four bytes at worst leave one of them to its next
-- ingest.
CREATE OR REPLACE FUNCTION mojule_note_seat() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
    digest bytea := sha256(convert_to(NEW.seat_identity, 'UTF8'));
BEGIN
    PERFORM 1 FROM license_seats WHERE seat_digest = digest;
    IF NOT FOUND THEN
        IF pg_try_advisory_xact_lock(hashtext('mojule.license_seats'),
                                     ('x' || encode(substring(digest FROM 1 FOR 4), 'hex'))::bit(32)::integer) THEN
            INSERT INTO license_seats (seat_digest, last_seen) VALUES (digest, now())
                ON CONFLICT (seat_digest) DO NOTHING;
        END IF;
        RETURN NULL;
    END IF;
    UPDATE license_seats
       SET last_seen = now()
     WHERE seat_digest IN (SELECT seat_digest
                             FROM license_seats
                            WHERE seat_digest = digest
                              AND last_seen < now() - interval '1 hour'
                              FOR UPDATE SKIP LOCKED);
    RETURN NULL;
END;
$$;
