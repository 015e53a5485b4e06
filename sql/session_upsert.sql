-- Folds what one ingest request saw of a session into its row: widens first/last seen,
-- fills identity and client fields that were unknown so far, and marks a `claude agents`
-- UI process once it reports itself (migration 0009). Run by every signal.
--
-- The email, account and user id, which decide who may read the session's content, are
-- filled only while the session has no seat, or by a request naming the same seat: any
-- holder of the org's ingest token could otherwise claim a session that had no email
-- (an API-key sign-in) by sending one more record of it with their own.
--
-- One exception: for its first ten minutes in Mojule (stored_at, migration 0023), a
-- session known only by its account or install id (user.id) takes the stronger identity
-- of a request that carries that same id, as the seat rule orders them (email, account,
-- install; Seat.yields_to in mojule/usage.py). Claude Code leaves user.email off some
-- records of a signed-in session (about a quarter of them when launched from Claude
-- Desktop), and the session is that person's whichever record came first. A claim on an
-- older session is refused: it would take knowing the session and install ids to make,
-- and the content of a session its owner has used for a while.
INSERT INTO sessions AS s (org_id, session_id, seat_identity, user_email, user_account_uuid,
                           user_id, organization_uuid, first_seen, last_seen, app_version,
                           terminal_type, service_name, resource_attributes, unattributed,
                           agents_view)
VALUES (%(org_id)s, %(session_id)s, %(seat_identity)s, %(user_email)s, %(user_account_uuid)s,
        %(user_id)s, %(organization_uuid)s, %(first_seen)s, %(last_seen)s, %(app_version)s,
        %(terminal_type)s, %(service_name)s, %(resource_attributes)s, %(unattributed)s,
        %(agents_view)s)
ON CONFLICT (org_id, session_id) DO UPDATE
   SET first_seen          = least(s.first_seen, excluded.first_seen),
       last_seen           = greatest(s.last_seen, excluded.last_seen),
       (seat_identity, user_email, user_account_uuid, user_id) = (
           SELECT CASE WHEN takes_seat THEN excluded.seat_identity ELSE s.seat_identity END,
                  CASE WHEN joins THEN coalesce(s.user_email, excluded.user_email)
                       ELSE s.user_email END,
                  CASE WHEN joins THEN coalesce(s.user_account_uuid, excluded.user_account_uuid)
                       ELSE s.user_account_uuid END,
                  CASE WHEN joins THEN coalesce(s.user_id, excluded.user_id)
                       ELSE s.user_id END
             FROM (SELECT takes_seat,
                          takes_seat OR s.seat_identity = excluded.seat_identity AS joins
                     FROM (SELECT s.seat_identity IS NULL
                                  -- the exception above, also in the WHERE below
                                  OR (NOT s.unattributed AND s.user_email IS NULL
                                      AND s.stored_at > now() - interval '10 minutes'
                                      AND s.seat_identity IN (excluded.user_account_uuid,
                                                              excluded.user_id)
                                      AND excluded.seat_identity <> s.seat_identity)
                                  AS takes_seat) AS claim) AS seat),
       organization_uuid   = coalesce(s.organization_uuid, excluded.organization_uuid),
       app_version         = coalesce(s.app_version, excluded.app_version),
       terminal_type       = coalesce(s.terminal_type, excluded.terminal_type),
       service_name        = coalesce(s.service_name, excluded.service_name),
       resource_attributes = s.resource_attributes || excluded.resource_attributes,
       agents_view         = s.agents_view OR excluded.agents_view
 WHERE excluded.first_seen < s.first_seen
    OR excluded.last_seen > s.last_seen
    OR (s.seat_identity IS NULL AND excluded.seat_identity IS NOT NULL)
    OR (NOT s.unattributed AND s.user_email IS NULL
        AND s.stored_at > now() - interval '10 minutes'
        AND s.seat_identity IN (excluded.user_account_uuid, excluded.user_id)
        AND excluded.seat_identity <> s.seat_identity)
    OR (s.app_version IS NULL AND excluded.app_version IS NOT NULL)
    OR NOT s.resource_attributes @> excluded.resource_attributes
    OR (excluded.agents_view AND NOT s.agents_view)
