-- 0034_some_seat_held.sql: whether any seat of an org is under an active legal hold, one
-- definition for the purge's delete and its counts (sql/content_expired_delete.sql,
-- sql/content_expired_counts.sql). While one is, content sent without a session id, which
-- names no seat, is kept: it may be the held seat's. Applied once by `mojule init-db`;
-- creates a function only.
CREATE FUNCTION mojule_some_seat_held(for_org bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1
                     FROM legal_holds AS h
                    WHERE h.org_id = for_org
                      AND h.released_at IS NULL
                      AND h.seat_identity IS NOT NULL)
$$;
