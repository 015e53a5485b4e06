-- 0001_initial.sql: orgs, ingest tokens, data keys, sessions and the time-partitioned
-- telemetry tables. Applied once by `mojule init-db`, which records it in schema_migrations.
--
-- Every tenant table carries org_id first in its primary key and unique keys, so the
-- schema can be distributed by org_id (Citus) later. `orgs` is the tenant registry itself
-- (a reference table in Citus terms). Telemetry tables are partitioned by month on their
-- time column; mojule_ensure_partition() creates months on demand.

CREATE TABLE orgs (
    org_id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name            text        NOT NULL,
    retention_days  integer     NOT NULL DEFAULT 90 CHECK (retention_days BETWEEN 1 AND 36500),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ingest_tokens (
    org_id          bigint      NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    token_id        bigint      GENERATED ALWAYS AS IDENTITY,
    name            text        NOT NULL,
    token_prefix    text        NOT NULL,
    token_digest    bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    PRIMARY KEY (org_id, token_id),
    UNIQUE (org_id, token_digest)
);
-- The auth hook finds a token by digest before it knows the org.
CREATE INDEX ingest_tokens_digest ON ingest_tokens (token_digest);

-- Per-org data keys (DEKs), wrapped by the master key; content rows name their dek_id.
CREATE TABLE data_keys (
    org_id          bigint      NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    dek_id          integer     NOT NULL,
    wrapped_key     bytea       NOT NULL,
    master_key_id   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz,
    PRIMARY KEY (org_id, dek_id)
);

-- One row per Claude Code session, kept current at ingest.
CREATE TABLE sessions (
    org_id              bigint      NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    session_id          text        NOT NULL,
    seat_identity       text,
    user_email          text,
    user_account_uuid   text,
    user_id             text,
    organization_uuid   text,
    first_seen          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    app_version         text,
    terminal_type       text,
    service_name        text,
    resource_attributes jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (org_id, session_id)
);
CREATE INDEX sessions_last_seen ON sessions (org_id, last_seen DESC);
CREATE INDEX sessions_seat ON sessions (org_id, seat_identity);

-- Log records (Claude Code events) with their usage metadata in typed columns.
CREATE TABLE log_events (
    org_id                  bigint           NOT NULL,
    time                    timestamptz      NOT NULL,
    record_id               bytea            NOT NULL,
    time_unix_nano          bigint           NOT NULL,
    observed_time_unix_nano bigint,
    session_id              text,
    event_name              text             NOT NULL,
    event_sequence          bigint,
    prompt_id               text,
    seat_identity           text,
    user_email              text,
    user_account_uuid       text,
    user_id                 text,
    organization_uuid       text,
    terminal_type           text,
    app_version             text,
    service_name            text,
    model                   text,
    input_tokens            bigint,
    output_tokens           bigint,
    cache_read_tokens       bigint,
    cache_creation_tokens   bigint,
    cost_usd                numeric,
    cost_usd_micros         bigint,
    duration_ms             double precision,
    tool_name               text,
    decision                text,
    decision_source         text,
    success                 boolean,
    error_type              text,
    status_code             integer,
    attempt                 integer,
    severity_number         smallint,
    severity_text           text,
    trace_id                text,
    span_id                 text,
    scope_name              text,
    scope_version           text,
    content_keys            text[]           NOT NULL DEFAULT '{}',
    attributes              jsonb            NOT NULL,
    resource_attributes     jsonb            NOT NULL,
    PRIMARY KEY (org_id, record_id, time)
) PARTITION BY RANGE (time);
CREATE INDEX log_events_time ON log_events (org_id, time);
CREATE INDEX log_events_session ON log_events (org_id, session_id, time);
CREATE INDEX log_events_name ON log_events (org_id, event_name, time);

-- Metric data points; temporality and start time kept so cumulative series become deltas.
CREATE TABLE metric_points (
    org_id                  bigint           NOT NULL,
    time                    timestamptz      NOT NULL,
    record_id               bytea            NOT NULL,
    series_hash             bytea            NOT NULL,
    metric_name             text             NOT NULL,
    kind                    text             NOT NULL,
    temporality             smallint         NOT NULL,
    is_monotonic            boolean          NOT NULL,
    unit                    text             NOT NULL,
    start_time_unix_nano    bigint           NOT NULL,
    time_unix_nano          bigint           NOT NULL,
    value                   numeric,
    distribution            jsonb,
    session_id              text,
    seat_identity           text,
    user_email              text,
    user_account_uuid       text,
    user_id                 text,
    organization_uuid       text,
    terminal_type           text,
    app_version             text,
    service_name            text,
    model                   text,
    type                    text,
    tool_name               text,
    decision                text,
    language                text,
    scope_name              text,
    scope_version           text,
    content_keys            text[]           NOT NULL DEFAULT '{}',
    attributes              jsonb            NOT NULL,
    resource_attributes     jsonb            NOT NULL,
    PRIMARY KEY (org_id, record_id, time)
) PARTITION BY RANGE (time);
CREATE INDEX metric_points_time ON metric_points (org_id, metric_name, time);
CREATE INDEX metric_points_session ON metric_points (org_id, session_id, time);
CREATE INDEX metric_points_series ON metric_points (org_id, series_hash, start_time_unix_nano);

-- Spans (traces); orphans are kept, parents need not exist.
CREATE TABLE spans (
    org_id                  bigint           NOT NULL,
    start_time              timestamptz      NOT NULL,
    trace_id                text             NOT NULL,
    span_id                 text             NOT NULL,
    record_id               bytea            NOT NULL,
    parent_span_id          text,
    name                    text             NOT NULL,
    kind                    smallint         NOT NULL,
    start_time_unix_nano    bigint           NOT NULL,
    end_time_unix_nano      bigint           NOT NULL,
    duration_ms             double precision,
    status_code             smallint         NOT NULL,
    session_id              text,
    seat_identity           text,
    user_email              text,
    user_account_uuid       text,
    user_id                 text,
    organization_uuid       text,
    terminal_type           text,
    app_version             text,
    service_name            text,
    model                   text,
    tool_name               text,
    input_tokens            bigint,
    output_tokens           bigint,
    cache_read_tokens       bigint,
    cache_creation_tokens   bigint,
    success                 boolean,
    scope_name              text,
    scope_version           text,
    content_keys            text[]           NOT NULL DEFAULT '{}',
    attributes              jsonb            NOT NULL,
    events                  jsonb            NOT NULL,
    links                   jsonb            NOT NULL,
    resource_attributes     jsonb            NOT NULL,
    PRIMARY KEY (org_id, trace_id, span_id, start_time)
) PARTITION BY RANGE (start_time);
CREATE INDEX spans_time ON spans (org_id, start_time);
CREATE INDEX spans_session ON spans (org_id, session_id, start_time);

-- Verbatim content split out of records at ingest, AES-256-GCM encrypted with the org's
-- data key; the ciphertext's associated data binds it to org, signal, record and attribute.
CREATE TABLE content_values (
    org_id          bigint      NOT NULL,
    time            timestamptz NOT NULL,
    signal          text        NOT NULL CHECK (signal IN ('logs', 'metrics', 'traces')),
    record_id       bytea       NOT NULL,
    attribute       text        NOT NULL,
    session_id      text,
    dek_id          integer     NOT NULL,
    ciphertext      bytea       NOT NULL,
    PRIMARY KEY (org_id, signal, record_id, attribute, time)
) PARTITION BY RANGE (time);
CREATE INDEX content_values_time ON content_values (org_id, time);
CREATE INDEX content_values_session ON content_values (org_id, session_id, time);

-- Creates the monthly partition of `parent` holding `day`, if it is missing. SECURITY
-- DEFINER so the app role can extend the tables it may not own; an advisory lock keeps two
-- workers from racing on the same month.
-- Bounds are UTC months whatever the session's TimeZone, matching how ingest picks them.
CREATE FUNCTION mojule_ensure_partition(parent text, day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET TimeZone = 'UTC' AS $$
DECLARE
    month_start date := date_trunc('month', day)::date;
    partition   text := format('%s_%s', parent, to_char(month_start, 'YYYY_MM'));
BEGIN
    IF parent NOT IN ('log_events', 'metric_points', 'spans', 'content_values') THEN
        RAISE EXCEPTION 'not a partitioned telemetry table: %', parent;
    END IF;
    IF to_regclass(partition) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('mojule_ensure_partition'));
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                   partition, parent, month_start, (month_start + interval '1 month')::date);
END;
$$;

-- Row-level security: a query sees only the rows of the org set for its transaction with
-- set_config('mojule.org_id', ..., true); with none set it sees nothing.
CREATE FUNCTION mojule_current_org() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('mojule.org_id', true), '')::bigint
$$;

ALTER TABLE ingest_tokens  ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_keys      ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions       ENABLE ROW LEVEL SECURITY;
ALTER TABLE log_events     ENABLE ROW LEVEL SECURITY;
ALTER TABLE metric_points  ENABLE ROW LEVEL SECURITY;
ALTER TABLE spans          ENABLE ROW LEVEL SECURITY;
ALTER TABLE content_values ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON ingest_tokens  USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON data_keys      USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON sessions       USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON log_events     USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON metric_points  USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON spans          USING (org_id = mojule_current_org());
CREATE POLICY org_isolation ON content_values USING (org_id = mojule_current_org());
