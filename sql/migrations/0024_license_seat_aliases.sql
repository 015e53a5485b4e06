-- 0024_license_seat_aliases.sql: the license counts a person once, whichever of their ids
-- a record names. Applied once by `mojule init-db`.
--
-- The seat register (0005, 0007) counted each seat identity a session carried: the email,
-- else the account, else the install id (user.id). Claude Code leaves user.email off some
-- records (about a quarter of them when launched from Claude Desktop), and before 2.1.161
-- sent no identity but user.id with its metrics, so one developer counted as two seats or
-- three, and a team well within its license could have ingestion paused.
--
-- A session's row names its seat and the weaker ids that came with it (its account and
-- install). Each weaker id is noted here as an alias of the seat it came with, once, and
-- from then on counts as that seat: a session known only by it refreshes the seat, and
-- its own row in the register is folded into the seat's. An alias points one way, from a
-- weaker id to a stronger one, and the first seat an id is seen with keeps it (a machine
-- two people sign in on counts under the first). Chains (an install noted under an
-- account, the account later under an email) are followed when read.
CREATE TABLE license_seat_aliases (
    alias_digest    bytea       PRIMARY KEY,
    seat_digest     bytea       NOT NULL
);

-- The register's entry for a seat identity's digest: the seat it is an alias of, through
-- any chain, or itself. A chain longer than the three kinds of id (or a loop, which only
-- made-up ids could make) is cut short. SECURITY DEFINER, as the trigger below: the app
-- role is granted the new table only once init-db has applied every migration, and ingest
-- must not fail in between (or for good, should init-db stop there).
CREATE FUNCTION mojule_seat_digest(digest bytea) RETURNS bytea
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    next bytea;
BEGIN
    FOR hop IN 1..4 LOOP
        SELECT a.seat_digest INTO next FROM license_seat_aliases AS a WHERE a.alias_digest = digest;
        EXIT WHEN next IS NULL OR next = digest;
        digest := next;
        next := NULL;
    END LOOP;
    RETURN digest;
END;
$$;

-- The trigger of 0007, which never waits on another ingest's lock, now noting aliases and
-- counting each id as its seat. An alias is written only by the transaction that holds its
-- advisory lock, taken without waiting; a skipped one is written by a later ingest. The
-- register's row of an id known to be an alias is deleted whenever the id is seen with
-- its seat: one registered by an ingest that ran beside the one noting the alias (whose
-- delete could not see it) goes with the next session naming both.
CREATE OR REPLACE FUNCTION mojule_note_seat() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    own bytea := sha256(convert_to(NEW.seat_identity, 'UTF8'));
    digest bytea := mojule_seat_digest(own);
    weaker text;
    weaker_digest bytea;
BEGIN
    FOREACH weaker IN ARRAY ARRAY[NEW.user_account_uuid, NEW.user_id] LOOP
        CONTINUE WHEN weaker IS NULL OR weaker = NEW.seat_identity;
        weaker_digest := sha256(convert_to(weaker, 'UTF8'));
        CONTINUE WHEN weaker_digest = digest;
        PERFORM 1 FROM license_seat_aliases WHERE alias_digest = weaker_digest;
        IF NOT FOUND THEN
            CONTINUE WHEN NOT pg_try_advisory_xact_lock(
                hashtext('mojule.license_seat_aliases'),
                ('x' || encode(substring(weaker_digest FROM 1 FOR 4), 'hex'))::bit(32)::integer);
            INSERT INTO license_seat_aliases (alias_digest, seat_digest)
                VALUES (weaker_digest, digest)
                ON CONFLICT (alias_digest) DO NOTHING;
        END IF;
        DELETE FROM license_seats
         WHERE seat_digest IN (SELECT seat_digest
                                 FROM license_seats
                                WHERE seat_digest = weaker_digest
                                  FOR UPDATE SKIP LOCKED);
    END LOOP;
    IF digest <> own THEN
        -- Registered before it was known to be an alias (by an ingest that committed
        -- while another noted the alias): folded now.
        DELETE FROM license_seats
         WHERE seat_digest IN (SELECT seat_digest
                                 FROM license_seats
                                WHERE seat_digest = own
                                  FOR UPDATE SKIP LOCKED);
    END IF;
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

-- Note the aliases of the sessions already stored, preferring a seat with an email (the
-- strongest) and then the one seen first, as the trigger keeps the first, and fold the
-- register's rows of those aliases into their seats. Sessions are under forced row-level
-- security, so each org is read with that org set, as the app would. The register is
-- locked against ingest's writes meanwhile, which would otherwise deadlock with the fold.
DO $$
DECLARE
    org bigint;
BEGIN
    LOCK TABLE license_seats IN SHARE ROW EXCLUSIVE MODE;
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        INSERT INTO license_seat_aliases (alias_digest, seat_digest)
        SELECT DISTINCT ON (1) sha256(convert_to(w.weaker, 'UTF8')),
               sha256(convert_to(s.seat_identity, 'UTF8'))
          FROM sessions AS s
         CROSS JOIN LATERAL unnest(ARRAY[s.user_account_uuid, s.user_id]) AS w (weaker)
         WHERE s.org_id = org
           AND s.seat_identity IS NOT NULL
           AND w.weaker IS NOT NULL
           AND w.weaker <> s.seat_identity
         ORDER BY 1, s.user_email IS NULL, s.first_seen
            ON CONFLICT (alias_digest) DO NOTHING;
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
    INSERT INTO license_seats (seat_digest, last_seen)
    SELECT mojule_seat_digest(l.seat_digest), max(l.last_seen)
      FROM license_seats AS l
      JOIN license_seat_aliases AS a ON a.alias_digest = l.seat_digest
     GROUP BY 1
        ON CONFLICT (seat_digest) DO UPDATE
       SET last_seen = greatest(license_seats.last_seen, excluded.last_seen);
    DELETE FROM license_seats AS l
     USING license_seat_aliases AS a
     WHERE a.alias_digest = l.seat_digest
       AND mojule_seat_digest(l.seat_digest) <> l.seat_digest;
END;
$$;
