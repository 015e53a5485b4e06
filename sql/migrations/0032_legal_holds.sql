-- 0032_legal_holds.sql: legal holds. An admin keeps a session's content, or the content of
-- every session of one seat (a person), past the org's content window while a matter
-- (a lawsuit, an investigation) needs it: `mojule purge` leaves what an active hold
-- covers, and the data keys that encrypt it, until the hold is released. Holds are
-- released, not deleted (only with their org), so what was held, by whom and why stays
-- on record (the audit trail has each change too). Applied once by `mojule init-db`; instant: the table is new.
CREATE TABLE legal_holds (
    org_id          bigint      NOT NULL,
    hold_id         bigint      GENERATED ALWAYS AS IDENTITY,
    session_id      text,
    seat_identity   text,
    reason          text        NOT NULL,
    placed_by       text        NOT NULL,
    placed_at       timestamptz NOT NULL DEFAULT now(),
    released_by     text,
    released_at     timestamptz,
    PRIMARY KEY (org_id, hold_id),
    CHECK ((session_id IS NULL) <> (seat_identity IS NULL)),
    CHECK ((released_at IS NULL) = (released_by IS NULL))
);
CREATE INDEX legal_holds_active ON legal_holds (org_id) WHERE released_at IS NULL;

ALTER TABLE legal_holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON legal_holds USING (org_id = mojule_current_org());
ALTER TABLE legal_holds FORCE ROW LEVEL SECURITY;

-- The sessions an org's active holds keep: each held session, and every session whose
-- seat is a held seat (those to come included). The purge's statements and the session
-- page ask it. Invoker's rights, so row-level security holds as for the caller's own
-- queries.
CREATE FUNCTION mojule_held_sessions(for_org bigint) RETURNS TABLE (session_id text)
LANGUAGE sql STABLE AS $$
    SELECT h.session_id
      FROM legal_holds AS h
     WHERE h.org_id = for_org
       AND h.released_at IS NULL
       AND h.session_id IS NOT NULL
    UNION
    SELECT s.session_id
      FROM legal_holds AS h
      JOIN sessions AS s
        ON s.org_id = h.org_id
       AND s.seat_identity = h.seat_identity
     WHERE h.org_id = for_org
       AND h.released_at IS NULL
$$;
