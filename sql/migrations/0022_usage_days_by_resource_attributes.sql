-- 0022_usage_days_by_resource_attributes.sql: each past day's sessions summed ahead per
-- seat and resource attributes too, for usage reports grouped by a resource attribute
-- (`group_by=attr:department`). Applied once by `mojule init-db`, instant: the table
-- starts empty, and the summing of migration 0021 (`mojule init-db`, then every daily
-- `mojule purge`) fills it with usage_days, from the day each org's summing reached back.
--
-- usage_days keeps no resource attribute, so such a report read every session of its
-- window and its sessions row: a large org's month, 78,000 sessions. Summed ahead per
-- seat and attributes, the same month is about 33,000 rows.
--
-- The attributes kept are the session's (sessions.resource_attributes) but those that
-- describe its process rather than who ran it where (mojule_process_attribute): the app
-- version differs between a person's sessions of one day, and a process id or instance id
-- between all of them, which would leave a row per session. A report grouped by one of
-- those reads session_usage, as before (sql/analytics_usage.sql, `cover`).
--
-- The rows follow usage_days: a day summed once is summed into both tables in one
-- transaction, and summed again, in both, after a change noted in usage_day_changes. A
-- change of a session's resource attributes (a resumed session that sends new ones) is
-- noted too, by the trigger on sessions below.
--
-- Summed again, usage_days holds one totals row per seat and day, with the model names of
-- all its sessions, where 0021 held one per set of models (sql/usage_days_sum.sql): a
-- report grouped by day and user shows such a row as it is. The previous release's
-- reports, still running while init-db sums, add up the same figures from it.

-- A `mojule purge` of the previous release still running would go on summing days in
-- 0021's shape after this migration, and move usage_days_built past them: wait for it
-- (its lock, mojule/retention.py PURGE_LOCK), before holding up ingest below.
SELECT pg_advisory_xact_lock(1886745191);

-- Ingest takes sessions first, then notes changed days in usage_day_changes (through
-- session_usage's triggers): sessions first here too, for the trigger below, so that
-- emptying usage_day_changes waits for no ingest that waits for this migration.
LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE usage_days_attributes (
    org_id                bigint  NOT NULL,
    day                   date    NOT NULL,  -- UTC day the sessions began and ended in
    seat_identity         text,
    resource_attributes   jsonb   NOT NULL,  -- but those of the process
    models                text[],            -- the sessions' raw model names
    sessions              integer NOT NULL,  -- sessions counted in the group, once each
    whole_micros          numeric,           -- the sessions' rounded costs, summed
    input_tokens          numeric,
    output_tokens         numeric,
    cache_read_tokens     numeric,
    cache_creation_tokens numeric,
    api_requests          bigint,
    api_errors            bigint,
    api_retries_exhausted bigint,
    tool_calls            bigint,
    tool_successes        bigint,
    tool_failures         bigint,
    tool_duration_ms      numeric,
    tool_timed            bigint,
    tool_accepts          bigint,
    tool_rejects          bigint,
    lines_added           numeric,
    lines_removed         numeric,
    commits               numeric,
    pull_requests         numeric,
    edits_accepted        numeric,
    edits_rejected        numeric,
    active_time_user_s    numeric,
    active_time_cli_s     numeric
);
-- Reports read an org's days in a range; a day is summed once (the key refuses twice).
-- The attributes by their hash: an index entry holds at most a third of a page, and an
-- exporter may send many.
CREATE UNIQUE INDEX usage_days_attributes_key
    ON usage_days_attributes (org_id, day, seat_identity, models,
                              md5(resource_attributes::text)) NULLS NOT DISTINCT;
ALTER TABLE usage_days_attributes ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON usage_days_attributes USING (org_id = mojule_current_org());
ALTER TABLE usage_days_attributes FORCE ROW LEVEL SECURITY;

-- True for a resource attribute of the process rather than of who ran it where: the
-- service's version and instance (OpenTelemetry's service.version, service.instance.id)
-- and the process's own (process.pid, process.command_args, ...). mojule/accounting.py
-- (process_attribute) knows the same, to plan such a report without the sums.
CREATE FUNCTION mojule_process_attribute(key text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT key IN ('service.version', 'service.instance.id') OR key LIKE 'process.%'
$$;

-- A session's resource attributes as usage_days_attributes keeps them.
CREATE FUNCTION mojule_lasting_attributes(attributes jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(a.key, a.value), '{}'::jsonb)
      FROM jsonb_each(attributes) AS a
     WHERE NOT mojule_process_attribute(a.key)
$$;

-- Notes the past days of a single-day session whose resource attributes changed.
-- With its owner's rights, as mojule_usage_days_note_changes (migration 0021).
CREATE FUNCTION mojule_usage_days_note_attributes()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO usage_day_changes (org_id, day, xact)
    SELECT DISTINCT u.org_id, (u.first_bucket AT TIME ZONE 'UTC')::date, pg_current_xact_id()
      FROM session_usage AS u
     WHERE u.org_id = NEW.org_id
       AND u.session_id = NEW.session_id
       AND u.first_bucket < date_trunc('day', clock_timestamp(), 'UTC')
       AND date_trunc('day', u.first_bucket, 'UTC') = date_trunc('day', u.last_bucket, 'UTC')
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
ALTER FUNCTION mojule_usage_days_note_attributes() SET plan_cache_mode = force_generic_plan;

CREATE TRIGGER usage_days_note_attributes
    AFTER UPDATE OF resource_attributes ON sessions
    FOR EACH ROW
    -- As texts: jsonb takes 1 and 1.0 for equal, reports show them apart.
    WHEN (OLD.resource_attributes::text IS DISTINCT FROM NEW.resource_attributes::text)
    EXECUTE FUNCTION mojule_usage_days_note_attributes();

-- Every org's days are summed anew, into both tables, by the next summing (init-db runs it
-- right after this migration), from empty tables: no row of 0021's shape is left to read,
-- and no note of a change to a day no longer summed. Until then reports read
-- session_usage, as a report of a day not summed yet does. (TRUNCATE: row-level security
-- would let a DELETE, run for no org, see no row.)
TRUNCATE usage_days, usage_days_built, usage_day_changes;

-- One totals row per seat and day, which reports grouped by day and user rely on: a
-- writer of 0021's shape fails here rather than double a group.
CREATE UNIQUE INDEX usage_days_seat_day ON usage_days (org_id, day, seat_identity)
    NULLS NOT DISTINCT WHERE NOT per_model;
