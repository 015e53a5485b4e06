-- 0025_enduser_emails_in_lower_case.sql: the records of a seat named by an email in
-- enduser.id name it in lower case, as those of one named by user.email always did.
-- Applied once by `mojule init-db`: it reads the three record tables once per org, while
-- ingest goes on; 0026 then does the same to the sessions and the license register, while
-- ingest waits. Two migrations, so that this one's row locks are gone before 0026 locks
-- the sessions table: an ingest holding that table's lock while it waits on a record
-- rewritten here would otherwise deadlock the upgrade.
--
-- Claude Code's docs advise OTEL_RESOURCE_ATTRIBUTES="enduser.id=..." where the sign-in
-- (API key, Bedrock, Vertex, Foundry) sends no email, and a directory may give the address
-- as Carol@Example.com. Such a seat was stored as sent, so the user filter (which lower-cases
-- an email, as the dashboard's Users links pass it) found none of its sessions, and the
-- same person typed two ways was two users and two license seats. Ingest now lower-cases it
-- (mojule/usage.py, context); this brings the records already stored in line.
--
-- A seat is rewritten only where it came from enduser.id: it holds an '@', is not all in
-- lower case, and is neither the record's account nor its install id (an email from
-- user.email is in lower case already).
DO $$
DECLARE
    org bigint;
    record_table text;
BEGIN
    FOR org IN SELECT org_id FROM orgs LOOP
        PERFORM set_config('mojule.org_id', org::text, true);
        FOREACH record_table IN ARRAY ARRAY['log_events', 'metric_points', 'spans'] LOOP
            EXECUTE format('UPDATE %I AS r
                               SET seat_identity = lower(r.seat_identity)
                             WHERE r.org_id = $1
                               AND strpos(r.seat_identity, ''@'') > 0
                               AND r.seat_identity <> lower(r.seat_identity)
                               AND r.seat_identity IS DISTINCT FROM r.user_account_uuid
                               AND r.seat_identity IS DISTINCT FROM r.user_id',
                           record_table) USING org;
        END LOOP;
    END LOOP;
    PERFORM set_config('mojule.org_id', '', true);
END;
$$;
