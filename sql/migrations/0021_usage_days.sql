-- 0021_usage_days.sql: the sessions of each past day summed ahead per seat and model, what
-- usage reports read for the whole days of their window. Applied once by `mojule init-db`,
-- instant: the tables start empty, and `mojule init-db` then every daily `mojule purge`
-- sum the days that have ended (mojule/usage_days.py).
--
-- A report reads one session_usage row per session it reads whole (migration 0006): for
-- a large org's month, 78,000 rows, or 163,000 grouped by model, and adding up their exact
-- numeric sums and counting their seats is most of its time. Summed ahead per org, day,
-- seat and model, the same month is 29,000 and 51,000 rows.
--
-- usage_days holds, for each UTC day that has ended, the sums of the session_usage rows
-- of the sessions that began and ended in it (first and last quarter hour that day): per
-- seat and set of models (totals rows, per_model false), and per seat and raw model (model
-- rows). `sessions` counts the rows that count their session once in a group (counted,
-- and not an unattributed or `claude agents` process: migrations 0008, 0009). A session
-- that spans midnight is not in it: reports read it from session_usage as before. Nor is
-- a terminal, app version or resource attribute: a report grouped or filtered by one of
-- those reads session_usage alone.
--
-- A day once summed can still change: an exporter retrying late, `claude --resume` of an
-- old session, a session whose seat is learned later. Every statement that changes a
-- session_usage row of a single-day session of a past day notes the day and its own
-- transaction in usage_day_changes (the triggers below; whatever the writer: ingest, a
-- recount, a worker of another release). Reports read a noted day from session_usage, so
-- they are exact at once; the next `mojule purge` sums the day again and forgets the notes
-- whose transactions its snapshot sees (pg_visible_in_snapshot), never one still in flight.
--
-- A write to today's sessions notes nothing (today is not summed), so the summing must not
-- miss one still in flight when the day ends: before it sums the days before today, it
-- waits until every transaction this database was running when it began has ended
-- (mojule/usage_days.py, settle), and its snapshot then sees them all. A write notes by
-- the clock when it is made, so one that noted nothing was made before the summing began.
CREATE TABLE usage_days (
    org_id                bigint  NOT NULL,
    day                   date    NOT NULL,  -- UTC day the sessions began and ended in
    per_model             boolean NOT NULL,  -- false: totals rows
    seat_identity         text,
    model                 text,              -- raw name; NULL on totals rows
    model_key             text,              -- model without a trailing [...] suffix
    models                text[],            -- totals rows: the sessions' raw model names
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
CREATE UNIQUE INDEX usage_days_key
    ON usage_days (org_id, per_model, day, seat_identity, model, models) NULLS NOT DISTINCT;
ALTER TABLE usage_days ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON usage_days USING (org_id = mojule_current_org());
ALTER TABLE usage_days FORCE ROW LEVEL SECURITY;

-- Reports read session_usage for the rest of their window: the rows outside the days
-- summed through session_usage_window, and the few of sessions across midnight inside
-- them through this index (sql/analytics_usage.sql, unsummed_usage). Built here from the
-- rows stored: a few seconds for a million sessions, while ingest waits.
CREATE INDEX session_usage_across_days ON session_usage (org_id, per_model, last_bucket)
    WHERE (first_bucket AT TIME ZONE 'UTC')::date <> (last_bucket AT TIME ZONE 'UTC')::date;

-- How far each org's days are summed: every day before built_through that has no note.
CREATE TABLE usage_days_built (
    org_id         bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    built_through  date   NOT NULL,
    PRIMARY KEY (org_id)
);
ALTER TABLE usage_days_built ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON usage_days_built USING (org_id = mojule_current_org());
ALTER TABLE usage_days_built FORCE ROW LEVEL SECURITY;

-- The past days whose sessions a transaction changed (xact), to sum again.
CREATE TABLE usage_day_changes (
    org_id  bigint NOT NULL,
    day     date   NOT NULL,
    xact    xid8   NOT NULL,
    PRIMARY KEY (org_id, day, xact)
);
ALTER TABLE usage_day_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON usage_day_changes USING (org_id = mojule_current_org());
ALTER TABLE usage_day_changes FORCE ROW LEVEL SECURITY;

-- Notes the past days of the single-day sessions whose session_usage rows the statement
-- changed: `changed` (inserted, deleted or updated rows) and, for an update, `previous`.
-- With its owner's rights: ingest must not fail for want of a grant on usage_day_changes
-- (a release still running between this migration and init-db's grant writes too);
-- row-level security still keeps each note to the org of the transaction.
CREATE FUNCTION mojule_usage_days_note_changes()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO usage_day_changes (org_id, day, xact)
        SELECT DISTINCT r.org_id, (r.first_bucket AT TIME ZONE 'UTC')::date,
               pg_current_xact_id()
          FROM (SELECT org_id, first_bucket, last_bucket FROM changed
                UNION ALL
                SELECT org_id, first_bucket, last_bucket FROM previous) AS r
         WHERE r.first_bucket < date_trunc('day', clock_timestamp(), 'UTC')
           AND date_trunc('day', r.first_bucket, 'UTC') = date_trunc('day', r.last_bucket, 'UTC')
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO usage_day_changes (org_id, day, xact)
        SELECT DISTINCT r.org_id, (r.first_bucket AT TIME ZONE 'UTC')::date,
               pg_current_xact_id()
          FROM changed AS r
         WHERE r.first_bucket < date_trunc('day', clock_timestamp(), 'UTC')
           AND date_trunc('day', r.first_bucket, 'UTC') = date_trunc('day', r.last_bucket, 'UTC')
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;
-- Planned once per connection, like the trigger that writes session_usage (migration 0015).
ALTER FUNCTION mojule_usage_days_note_changes() SET plan_cache_mode = force_generic_plan;

CREATE TRIGGER usage_days_note_insert AFTER INSERT ON session_usage
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION mojule_usage_days_note_changes();
CREATE TRIGGER usage_days_note_delete AFTER DELETE ON session_usage
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION mojule_usage_days_note_changes();
CREATE TRIGGER usage_days_note_update AFTER UPDATE ON session_usage
    REFERENCING OLD TABLE AS previous NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION mojule_usage_days_note_changes();
