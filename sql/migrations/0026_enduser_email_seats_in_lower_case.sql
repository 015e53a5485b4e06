-- 0026_enduser_email_seats_in_lower_case.sql: a session whose seat is an email from
-- enduser.id names it in lower case, and the license register counts its two spellings as
-- one seat (see 0025, which did the same to the records). Applied once by `mojule
-- init-db`: it reads the sessions once per org, while ingest waits.
--
-- The rewrite reaches session_usage, and the usage days a session belongs to, through the
-- triggers of migrations 0013 and 0021, so reports are exact at once. The license register
-- keeps the seat's last sighting: the old seat's digest becomes an alias of the new one
-- (migration 0024) and its row is folded into the new one's, with the register's own
-- trigger held off meanwhile, which would otherwise count every rewritten session as seen
-- now.
DO $$
DECLARE
    org bigint;
BEGIN
    -- Sessions first, as ingest takes them (its session upsert writes the register by
    -- trigger), so that an ingest caught between the two cannot deadlock the upgrade.
    LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE;
    LOCK TABLE license_seats IN SHARE ROW EXCLUSIVE MODE;
    ALTER TABLE sessions DISABLE TRIGGER sessions_note_seat;
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        INSERT INTO license_seat_aliases (alias_digest, seat_digest)
        SELECT DISTINCT sha256(convert_to(s.seat_identity, 'UTF8')),
               mojule_seat_digest(sha256(convert_to(lower(s.seat_identity), 'UTF8')))
          FROM sessions AS s
         WHERE s.org_id = org
           AND strpos(s.seat_identity, '@') > 0
           AND s.seat_identity <> lower(s.seat_identity)
           AND s.seat_identity IS DISTINCT FROM s.user_account_uuid
           AND s.seat_identity IS DISTINCT FROM s.user_id
            ON CONFLICT (alias_digest) DO NOTHING;
        UPDATE sessions AS s
           SET seat_identity = lower(s.seat_identity)
         WHERE s.org_id = org
           AND strpos(s.seat_identity, '@') > 0
           AND s.seat_identity <> lower(s.seat_identity)
           AND s.seat_identity IS DISTINCT FROM s.user_account_uuid
           AND s.seat_identity IS DISTINCT FROM s.user_id;
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
    ALTER TABLE sessions ENABLE TRIGGER sessions_note_seat;
    -- Fold the register's rows of the new aliases (and of any alias left unfolded) into
    -- their seats, keeping the latest sighting, as migration 0024 did.
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
