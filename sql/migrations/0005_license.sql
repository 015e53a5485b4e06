-- 0005_license.sql: the on-prem license, the operator's manual pause, the state the license
-- policy last recorded, and the installation-wide register of seats it counts. Applied once
-- by `mojule init-db`.
--
-- These tables belong to the installation, not to an org: they have no org_id and no
-- row-level security. The seat register holds SHA-256 digests of seat identities only, so
-- the app role, which reads it whole, learns how many seats are active and never whose.

-- Every license ever installed; the most recently installed one is in force. The file is
-- kept verbatim and its signature is checked again whenever it is loaded, so a row written
-- by anything but `mojule license install` counts for nothing.
CREATE TABLE licenses (
    license_id      text        PRIMARY KEY,
    document        text        NOT NULL,
    licensee        text        NOT NULL,
    seats           integer     NOT NULL,
    not_after       timestamptz NOT NULL,
    installed_at    timestamptz NOT NULL DEFAULT now(),
    installed_by    text        NOT NULL
);
CREATE INDEX licenses_installed ON licenses (installed_at DESC);

-- At most one row: present while an operator has paused ingestion by hand.
CREATE TABLE ingest_pause (
    installation    boolean     PRIMARY KEY DEFAULT true CHECK (installation),
    reason          text        NOT NULL,
    paused_at       timestamptz NOT NULL DEFAULT now(),
    paused_by       text        NOT NULL
);

-- Exactly one row: the decision the policy last recorded. Workers compare each fresh
-- decision with it and update it with a conditional UPDATE, so however many workers notice
-- a change, it is recorded (and audit-logged) once.
CREATE TABLE ingest_state (
    installation    boolean     PRIMARY KEY DEFAULT true CHECK (installation),
    paused          boolean     NOT NULL DEFAULT false,
    reason          text        NOT NULL DEFAULT '',
    changed_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ingest_state DEFAULT VALUES;

-- One row per seat identity ever seen, with when it last sent telemetry (to the hour).
-- Seats in use = rows seen in the trailing 30 days: an index range count, cheap enough to
-- run every few seconds, where counting distinct identities across every org's sessions
-- would be a scan that row-level security does not even allow the app role to make.
CREATE TABLE license_seats (
    seat_digest     bytea       PRIMARY KEY,
    last_seen       timestamptz NOT NULL
);
CREATE INDEX license_seats_last_seen ON license_seats (last_seen);

-- Kept current at ingest by a trigger on sessions, so every path that records a session
-- (all three signals) counts its seat. It never waits on a lock another request holds: a
-- seat already registered is only refreshed when its time is over an hour old, and skipped
-- if another transaction is refreshing it right now.
CREATE FUNCTION mojule_note_seat() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
    digest bytea := sha256(convert_to(NEW.seat_identity, 'UTF8'));
BEGIN
    PERFORM 1 FROM license_seats WHERE seat_digest = digest;
    IF NOT FOUND THEN
        INSERT INTO license_seats (seat_digest, last_seen) VALUES (digest, now())
            ON CONFLICT (seat_digest) DO NOTHING;
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

CREATE TRIGGER sessions_note_seat
    AFTER INSERT OR UPDATE OF last_seen, seat_identity ON sessions
    FOR EACH ROW WHEN (NEW.seat_identity IS NOT NULL)
    EXECUTE FUNCTION mojule_note_seat();

-- Register the seats of the trailing 30 days that are already stored. Sessions are under
-- forced row-level security, so each org is read with that org set, as the app would.
DO $$
DECLARE
    org bigint;
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        INSERT INTO license_seats (seat_digest, last_seen)
        SELECT sha256(convert_to(seat_identity, 'UTF8')), least(max(last_seen), now())
          FROM sessions
         WHERE org_id = org
           AND seat_identity IS NOT NULL
           AND last_seen > now() - interval '30 days'
         GROUP BY 1
            ON CONFLICT (seat_digest) DO UPDATE
           SET last_seen = greatest(license_seats.last_seen, excluded.last_seen);
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
