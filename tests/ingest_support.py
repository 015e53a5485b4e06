"""What the ingest tests share: the recorded Claude Code exports, read independently of the
decoder under test, and ways to see what a request wrote.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask.testing import FlaskClient
from psycopg import sql

from mojule import create_app
from mojule.db import close_pool
from tests.conftest import fixture_bytes

SESSIONS = ("bash-tool", "failing-bash", "write-tool-resource-attrs")
SIGNALS = ("logs", "metrics", "traces")
COUNT_NAMES = {"logs": "logEvents", "metrics": "metricPoints", "traces": "spans"}
REJECTED_NAMES = {"logs": "rejectedLogRecords", "metrics": "rejectedDataPoints",
                  "traces": "rejectedSpans"}
TABLES = {"logs": "log_events", "metrics": "metric_points", "traces": "spans"}
# The three routes of each signal: the OTLP default, the API reference's alias, and what an
# exporter builds from the base endpoint /api/ingest/otlp.
ROUTES = {signal: (f"/v1/{signal}", f"/api/ingest/otlp/{signal}",
                   f"/api/ingest/otlp/v1/{signal}") for signal in SIGNALS}
METRIC_KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")


def fixture_payload(session: str, signal: str) -> dict:
    """The decoded JSON body Claude Code sent for one signal of a recorded session."""
    return json.loads(fixture_bytes(session, signal))


def records(payload: dict, signal: str) -> list[dict]:
    """Every log record, metric data point or span of an export request, in order."""
    found = []
    if signal == "logs":
        for resource in payload.get("resourceLogs", []):
            for scope in resource.get("scopeLogs", []):
                found.extend(scope.get("logRecords", []))
    elif signal == "metrics":
        for resource in payload.get("resourceMetrics", []):
            for scope in resource.get("scopeMetrics", []):
                for metric in scope.get("metrics", []):
                    for kind in METRIC_KINDS:
                        found.extend(metric.get(kind, {}).get("dataPoints", []))
    else:
        for resource in payload.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                found.extend(scope.get("spans", []))
    return found


def plain(value: dict) -> Any:
    """The Python value of a fixture's AnyValue (strings, numbers, booleans, arrays)."""
    if "arrayValue" in value:
        return [plain(item) for item in value["arrayValue"].get("values", [])]
    if "intValue" in value:
        return int(value["intValue"])
    return next(iter(value.values()), None)


def attributes(item: dict) -> dict[str, Any]:
    """The attributes of a fixture record, resource or event as a plain dict."""
    return {pair["key"]: plain(pair["value"]) for pair in item.get("attributes", [])}


def session_ids(payload: dict, signal: str) -> list[str]:
    """The distinct session.id values of an export request, sorted."""
    return sorted({attributes(item)["session.id"] for item in records(payload, signal)})


def log_records(session: str) -> dict[int, dict]:
    """The session's log records by event.sequence."""
    return {attributes(record)["event.sequence"]: record
            for record in records(fixture_payload(session, "logs"), "logs")}


def tenant_tables(db: psycopg.Connection) -> list[str]:
    """The tables (partition parents, not partitions) that hold an org_id column."""
    return [row[0] for row in db.execute(
        "SELECT c.relname FROM pg_class c"
        "  JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id'"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " ORDER BY c.relname")]


def org_row_counts(db: psycopg.Connection, org_id: int) -> dict[str, int]:
    """How many rows each tenant table holds for the org."""
    return {table: db.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE org_id = %s").format(
            sql.Identifier(table)), (org_id,)).fetchone()[0]
        for table in tenant_tables(db)}


def database_snapshot(db: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of all its rows: equal snapshots, no writes."""
    tables = [row[0] for row in db.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition")]
    return {table: tuple(db.execute(
        sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text),"
                        " '')) FROM {} AS t").format(sql.Identifier(table))).fetchone())
        for table in tables}


@contextmanager
def app_client(config: dict, **overrides: Any) -> Iterator[FlaskClient]:
    """A test client of an app built with ``overrides`` on top of the test config."""
    app = create_app({**config, **overrides})
    app.config["TESTING"] = True
    try:
        yield app.test_client()
    finally:
        close_pool(app)
