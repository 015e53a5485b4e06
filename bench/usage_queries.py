"""``python -m bench.usage_queries``: how fast the usage API's queries answer at scale.

For the biggest org and the median one of the usage benchmark's data (bench/usage_data.py,
generated first when missing), over the last 30 days of it, runs the queries behind the
read API through the real functions (mojule.analytics and the export generators), as a
role that row-level security holds, like production: usage totals and groupings, the
session list's first page and a later one through its cursor, session detail, the first
page of one day's report in the Admin API's shape, and the first rows of each export.
Each query runs once to warm up, then ``--repeat`` times, round robin so that whatever
else the machine does weighs on all alike. Prints a table of p50/p95 per query, PASS or
MISS against the goal (p95 under 300 ms), then one JSON line; one full pass of the
session and event exports is timed on its own.
"""
from __future__ import annotations

import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
import psycopg
import psycopg.conninfo

from bench import usage_data
from mojule import analytics, exports, schema, usage_report
from mojule.db import connect

GOAL_MS = 300.0
WINDOW = timedelta(days=30)
# The role the queries run as: held to row-level security, and the benchmark's own, so a
# shared database's real app role is left alone.
APP_ROLE = "mojule_bench_usage"
DETAIL_SESSIONS = 4
EXPORT_SESSIONS = 1000
EXPORT_EVENTS = 10_000
LATER_PAGE = 5


@dataclass(frozen=True)
class Context:
    conn: psycopg.Connection
    org_id: int
    start: datetime
    end: datetime
    later_cursor: str | None
    detail_sessions: tuple[str, ...]
    busiest_seat: str          # the seat with the most sessions in the window


@dataclass
class Query:
    name: str
    run: Callable[[Context, int], object]   # (context, repetition) -> anything
    times: list[float]


def _usage(*groups: str) -> Callable[[Context, int], object]:
    def run(ctx: Context, _: int) -> object:
        return analytics.usage(ctx.conn, ctx.org_id, ctx.start, ctx.end, list(groups))
    return run


def _first_page(ctx: Context, _: int) -> object:
    return analytics.list_sessions(ctx.conn, ctx.org_id, ctx.start, ctx.end)


def _later_page(ctx: Context, _: int) -> object:
    return analytics.list_sessions(ctx.conn, ctx.org_id, ctx.start, ctx.end,
                                   cursor=ctx.later_cursor)


def _detail(ctx: Context, repetition: int) -> object:
    session_id = ctx.detail_sessions[repetition % len(ctx.detail_sessions)]
    return analytics.session_totals(ctx.conn, ctx.org_id, session_id)


def _day_report(ctx: Context, _: int) -> object:
    day = (ctx.end - timedelta(days=1)).date()
    return usage_report.claude_code_report(ctx.conn, ctx.org_id, day)


def _usage_csv(ctx: Context, _: int) -> object:
    lines = exports.usage_csv(ctx.conn, ctx.org_id, ctx.start, ctx.end, ["day", "user"],
                              "UTC", None)
    return sum(1 for _ in lines)


def _sessions_csv(ctx: Context, _: int) -> object:
    rows = exports.session_rows(ctx.conn, ctx.org_id, ctx.start, ctx.end, None)
    lines = exports.csv_lines(exports.session_columns(), map(exports.flatten, rows))
    return sum(1 for _ in itertools.islice(lines, EXPORT_SESSIONS))


def _events_ndjson(ctx: Context, _: int) -> object:
    rows = exports.event_rows(ctx.conn, ctx.org_id, ctx.start, ctx.end, None)
    lines = exports.ndjson_lines(rows)
    try:
        return sum(1 for _ in itertools.islice(lines, EXPORT_EVENTS))
    finally:
        lines.close()
        rows.close()


def _member_events(ctx: Context, _: int) -> object:
    # The busiest seat as a member sees their own events: the export picks their sessions.
    kind = "email" if "@" in ctx.busiest_seat else "user_id"
    return _events(ctx, {kind: [ctx.busiest_seat]}, None)


def _user_events(ctx: Context, _: int) -> object:
    return _events(ctx, None, ctx.busiest_seat)


def _events(ctx: Context, seats: dict | None, user: str | None) -> int:
    rows = exports.event_rows(ctx.conn, ctx.org_id, ctx.start, ctx.end, seats, user)
    try:
        return sum(1 for _ in itertools.islice(rows, EXPORT_EVENTS))
    finally:
        rows.close()


def queries() -> list[Query]:
    named = [
        ("usage", _usage()),
        ("usage by day", _usage("day")),
        ("usage by model", _usage("model")),
        ("usage by user", _usage("user")),
        ("usage by attr:department", _usage("attr:department")),
        ("usage by day, model", _usage("day", "model")),
        ("sessions, first page", _first_page),
        (f"sessions, page {LATER_PAGE} (cursor)", _later_page),
        ("session detail", _detail),
        ("usage_report/claude_code, a day", _day_report),
        ("export usage.csv (day, user)", _usage_csv),
        (f"export sessions.csv, {EXPORT_SESSIONS:,} rows", _sessions_csv),
        (f"export events.ndjson, {EXPORT_EVENTS:,} lines", _events_ndjson),
        ("export events, a member's own", _member_events),
        ("export events, ?user= a seat", _user_events),
    ]
    return [Query(name, run, []) for name, run in named]


def percentile(times: list[float], share: float) -> float:
    """The nearest-rank percentile of ``times``."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def app_url(url: str) -> str:
    with connect(url) as conn:
        password = schema.ensure_app_role(conn, APP_ROLE, reset_password=True)
    return psycopg.conninfo.make_conninfo(url, user=APP_ROLE, password=password)


def context(conn: psycopg.Connection, owner: psycopg.Connection, slug: str,
            end: datetime) -> Context:
    """The org's context: its window, a later page's cursor, and sessions to detail (the
    longest of the window and a few others)."""
    org_id = owner.execute("SELECT org_id FROM orgs WHERE slug = %s", (slug,)).fetchone()[0]
    start = end - WINDOW
    cursor = None
    for _ in range(LATER_PAGE - 1):
        _, cursor = analytics.list_sessions(conn, org_id, start, end, cursor=cursor)
    sessions = [row[0] for row in owner.execute(
        "(SELECT session_id FROM sessions WHERE org_id = %(org)s AND first_seen >= %(start)s"
        "  AND last_seen < %(end)s ORDER BY last_seen - first_seen DESC LIMIT 1)"
        " UNION ALL"
        " (SELECT session_id FROM sessions WHERE org_id = %(org)s AND first_seen >= %(start)s"
        "  AND last_seen < %(end)s ORDER BY md5(session_id) LIMIT %(others)s)",
        {"org": org_id, "start": start, "end": end, "others": DETAIL_SESSIONS - 1})]
    busiest_seat = owner.execute(
        "SELECT seat_identity FROM sessions WHERE org_id = %s AND last_seen >= %s"
        " AND seat_identity IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
        (org_id, start)).fetchone()[0]
    return Context(conn, org_id, start, end, cursor, tuple(sessions), busiest_seat)


def measure(contexts: dict[str, Context], repeat: int) -> dict[str, list[Query]]:
    """Run every query of every org once untimed, then ``repeat`` times, round robin."""
    measured = {org: queries() for org in contexts}
    for repetition in range(-1, repeat):
        for org, ctx in contexts.items():
            for query in measured[org]:
                started = time.perf_counter()
                query.run(ctx, repetition)
                if repetition >= 0:
                    query.times.append(time.perf_counter() - started)
        if sys.stderr.isatty() and repetition >= 0:
            print(f"\rround {repetition + 1}/{repeat}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return measured


def full_exports(ctx: Context) -> dict[str, dict]:
    """Time one whole pass of the sessions and events exports (rows and rows per second)."""
    result = {}
    for name, make in (("sessions.csv", lambda: exports.session_rows(
                            ctx.conn, ctx.org_id, ctx.start, ctx.end, None)),
                       ("events.ndjson", lambda: exports.event_rows(
                            ctx.conn, ctx.org_id, ctx.start, ctx.end, None))):
        started = time.perf_counter()
        rows = sum(1 for _ in make())
        seconds = time.perf_counter() - started
        result[name] = {"rows": rows, "seconds": round(seconds, 2),
                        "rows_per_s": round(rows / seconds)}
    return result


def report(measured: dict[str, list[Query]], orgs: dict[str, dict],
           whole: dict[str, dict], dataset: usage_data.Dataset) -> tuple[str, dict]:
    lines = [f"{'query':<34} {'org':<8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  goal"]
    figures = []
    for org, found in measured.items():
        for query in found:
            p50, p95 = (percentile(query.times, share) * 1000 for share in (0.5, 0.95))
            verdict = "PASS" if p95 < GOAL_MS else "MISS"
            lines.append(f"{query.name:<34} {org:<8} {p50:>8.1f} {p95:>8.1f} "
                         f"{max(query.times) * 1000:>8.1f}  {verdict}")
            figures.append({"query": query.name, "org": org, "p50_ms": round(p50, 1),
                            "p95_ms": round(p95, 1),
                            "mean_ms": round(statistics.fmean(query.times) * 1000, 1),
                            "runs": len(query.times), "pass": p95 < GOAL_MS})
    for name, figure in whole.items():
        lines.append(f"whole {name} export of the big org: {figure['rows']:,} rows in "
                     f"{figure['seconds']} s ({figure['rows_per_s']:,} rows/s)")
    summary = {"benchmark": "usage_queries", "goal_p95_ms": GOAL_MS,
               "data": {**{k: int(v) for k, v in dataset.counts.items() if k != "seconds"},
                        "end": dataset.end.isoformat()},
               "orgs": orgs, "queries": figures, "whole_exports": whole,
               "all_pass": all(figure["pass"] for figure in figures)}
    return "\n".join(lines), summary


@click.command()
@click.option("--repeat", type=click.IntRange(min=1), default=20, show_default=True,
              envvar="MOJULE_BENCH_USAGE_REPEAT", help="Timed runs of each query per org.")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              envvar="MOJULE_BENCH_USAGE_JOBS", help="Processes generating missing data.")
def main(repeat: int, jobs: int) -> None:
    """Time the usage queries for a big and a median org; generate the data if missing."""
    dataset = usage_data.ensure(jobs=jobs)
    ordinals = {"big": 1, "median": (dataset.plan.orgs + 1) // 2}
    with connect(dataset.url) as owner, connect(app_url(dataset.url)) as conn:
        contexts, orgs = {}, {}
        for label, ordinal in ordinals.items():
            slug = f"bench-{ordinal:03d}"
            contexts[label] = context(conn, owner, slug, dataset.end)
            orgs[label] = {"slug": slug, **dict(zip(("sessions", "events"), owner.execute(
                "SELECT (SELECT count(*) FROM sessions WHERE org_id = %(org)s"
                "          AND last_seen >= %(start)s),"
                "       (SELECT count(*) FROM log_events WHERE org_id = %(org)s"
                "          AND time >= %(start)s)",
                {"org": contexts[label].org_id, "start": contexts[label].start}).fetchone()))}
        measured = measure(contexts, repeat)
        whole = full_exports(contexts["big"])
    table, summary = report(measured, orgs, whole, dataset)
    click.echo(table)
    click.echo(json.dumps(summary))


if __name__ == "__main__":
    main()
