"""Usage analytics: Mojule's figures equal Claude Code's own, whatever the exporter does.

The real fixture sessions go through the HTTP ingest path (logs and metrics, either alone,
every batch twice, delta or cumulative) and are read back through mojule.analytics. The
expected figures come from the fixtures: Claude Code's claude-result.json for cost and
tokens, the exported records for everything else.
"""
from __future__ import annotations

import copy
import json
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from statistics import mean
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb

from mojule import accounting, analytics, orgs, retention, rollup, schema
from mojule.analytics import BadParameter
from mojule.cli import cli
from mojule.db import connect, get_connection, org_transaction
from tests.conftest import FIXTURES, fixture_bytes, session_id_of

SESSIONS = ("bash-tool", "failing-bash", "write-tool-resource-attrs")
WRITE_TOOL = "write-tool-resource-attrs"
MICRO = Decimal("0.000001")
DAY_NS = 86_400 * 10**9
# Wide enough for every fixture, however a test shifts its timestamps.
FROM = datetime(2020, 1, 1, tzinfo=UTC)
TO = datetime.now(UTC) + timedelta(days=8)
# Figures that add up across sessions and groups (sessions and users are distinct counts).
ADDITIVE = ("cost_usd", "api_requests", "api_errors", "api_retries_exhausted", "tool_calls",
            "tool_successes", "tool_failures", "lines_added", "lines_removed", "commits",
            "pull_requests")


# --- reading and rewriting the fixtures ----------------------------------------------

def body(name: str, signal: str) -> dict:
    return json.loads(fixture_bytes(name, signal))


def claude_result(name: str) -> dict:
    """What Claude Code itself reported for the session: cost and token usage."""
    path = FIXTURES / "claude-code-2.1.328" / name / "claude-result.json"
    result = json.loads(path.read_text(), parse_float=Decimal)
    usage = result["usage"]
    return {
        "session_id": result["session_id"],
        "cost_usd": result["total_cost_usd"].quantize(MICRO),
        "tokens": {"input": usage["input_tokens"], "output": usage["output_tokens"],
                   "cache_read": usage["cache_read_input_tokens"],
                   "cache_creation": usage["cache_creation_input_tokens"]},
    }


def attributes(item: dict) -> dict:
    return {attr["key"]: next(iter(attr["value"].values()), None)
            for attr in item.get("attributes", [])}


def log_records(logs: dict):
    for resource in logs["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            yield from scope["logRecords"]


def data_points(metrics: dict):
    """Yield (metric, point) for every data point of a metrics export."""
    for resource in metrics["resourceMetrics"]:
        for scope in resource["scopeMetrics"]:
            for metric in scope["metrics"]:
                for point in metric["sum"]["dataPoints"]:
                    yield metric, point


def events(name: str, event_name: str) -> list[dict]:
    return [attributes(record) for record in log_records(body(name, "logs"))
            if attributes(record)["event.name"] == event_name]


def metric_total(name: str, metric_name: str, **match: str) -> Decimal:
    """The sum of a session's delta points of one metric, as Claude Code exported them."""
    return sum((Decimal(repr(point["asDouble"]))
                for metric, point in data_points(body(name, "metrics"))
                if metric["name"] == metric_name
                and all(attributes(point).get(key) == value for key, value in match.items())),
               Decimal(0))


def seat_identity(name: str) -> str:
    record = next(log_records(body(name, "logs")))
    seen = {**attributes(body(name, "logs")["resourceLogs"][0]["resource"]), **attributes(record)}
    return seen.get("user.email") or seen["user.id"]


def shifted(payload: dict, nanos: int) -> dict:
    """The payload with every timestamp moved by ``nanos``."""
    if isinstance(payload, list):
        return [shifted(item, nanos) for item in payload]
    if not isinstance(payload, dict):
        return payload
    return {key: str(int(value) + nanos)
            if key in ("timeUnixNano", "startTimeUnixNano", "observedTimeUnixNano")
            else shifted(value, nanos) for key, value in payload.items()}


def cumulative_exports(name: str) -> list[dict]:
    """The session's delta metrics as a cumulative exporter that restarted would send them.

    Each delta point (start S, time T, value v) becomes two runs that add up to v: one
    from S reaching a quarter of v and then half; and, after a reset at R, one whose first
    point (start = time = R) is a baseline of a quarter, later growing by the other half.
    Counts stay whole numbers, as a counter's are. The exports arrive out of order, one
    of them twice, and the baseline last of all.
    """
    def half(value: Decimal) -> Decimal:
        return value // 2 if value == value.to_integral_value() else value / 2

    def runs(start: int, time: int, value: Decimal) -> dict[str, tuple]:
        span = time - start
        reset = start + 3 * span // 4
        return {"rising": (start, start + span // 4, half(half(value))),
                "run_total": (start, start + span // 2, half(value)),
                "baseline": (reset, reset, half(half(value))),
                "after_reset": (reset, time, half(half(value)) + value - half(value))}

    exports = []
    for step in ("run_total", "after_reset", "rising", "run_total", "baseline"):
        export = body(name, "metrics")
        for metric, point in data_points(export):
            metric["sum"]["aggregationTemporality"] = 2
            start, time, value = runs(int(point["startTimeUnixNano"]), int(point["timeUnixNano"]),
                                      Decimal(repr(point["asDouble"])))[step]
            point.update(startTimeUnixNano=str(start), timeUnixNano=str(time),
                         asDouble=float(value))
        exports.append(export)
    return exports


# --- sending -------------------------------------------------------------------------

def send(client, org, signal: str, payload: dict | bytes) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = client.post(f"/v1/{signal}", data=data, headers=org.headers)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["skipped"] == 0


def send_sessions(client, org, signals=("logs", "metrics", "traces"), times: int = 1) -> None:
    for _ in range(times):
        for name in SESSIONS:
            for signal in signals:
                send(client, org, signal, fixture_bytes(name, signal))


def totals(db, org) -> dict:
    (row,) = analytics.usage(db, org.org.org_id, FROM, TO)
    return row


def all_sessions(db, org, **filters) -> list[dict]:
    rows, cursor = analytics.list_sessions(db, org.org.org_id, FROM, TO, limit=500, **filters)
    assert cursor is None
    return rows


def figures(row: dict) -> dict:
    """A session's figures, without what says when it was seen or what it did when."""
    return {key: value for key, value in row.items()
            if key not in ("first_seen", "last_seen", "timeline", "timeline_truncated")}


# --- cost and tokens equal Claude Code's own -------------------------------------------

INGEST_MODES = {
    "logs and metrics": {"signals": ("logs", "metrics", "traces")},
    "metrics only": {"signals": ("metrics",)},
    "logs only": {"signals": ("logs",)},
    "every batch sent twice": {"signals": ("logs", "metrics", "traces"), "times": 2},
}


@pytest.mark.parametrize("mode", INGEST_MODES)
def test_every_session_costs_what_claude_code_reported(client, org, db, mode):
    send_sessions(client, org, **INGEST_MODES[mode])
    listed = {row["session_id"]: row for row in all_sessions(db, org)}
    for name in SESSIONS:
        expected = claude_result(name)
        detail = analytics.session_totals(db, org.org.org_id, expected["session_id"])
        for row in (detail, listed[expected["session_id"]]):
            assert row["cost_usd"] == expected["cost_usd"]
            assert row["tokens"] == expected["tokens"]
    total = totals(db, org)
    assert total["cost_usd"] == sum(claude_result(name)["cost_usd"] for name in SESSIONS)
    assert total["sessions"] == len(SESSIONS)


def test_cost_comes_from_api_request_events_even_when_metrics_disagree(client, org, db):
    metrics = body("bash-tool", "metrics")
    for metric, point in data_points(metrics):
        point["asDouble"] *= 3
    send(client, org, "logs", fixture_bytes("bash-tool", "logs"))
    send(client, org, "metrics", metrics)
    expected = claude_result("bash-tool")
    detail = analytics.session_totals(db, org.org.org_id, expected["session_id"])
    assert (detail["cost_usd"], detail["tokens"]) == (expected["cost_usd"], expected["tokens"])


def test_cumulative_metrics_count_like_the_delta_metrics_they_accumulate(client, org,
                                                                          other_org, db):
    for name in SESSIONS:
        send(client, org, "metrics", fixture_bytes(name, "metrics"))
        for export in cumulative_exports(name):
            send(client, other_org, "metrics", export)
    for name in SESSIONS:
        expected = claude_result(name)
        delta = analytics.session_totals(db, org.org.org_id, expected["session_id"])
        cumulative = analytics.session_totals(db, other_org.org.org_id, expected["session_id"])
        assert figures(cumulative) == figures(delta)
        assert cumulative["cost_usd"] == expected["cost_usd"]
        assert cumulative["tokens"] == expected["tokens"]


def test_cumulative_usage_split_at_any_instant_adds_up_to_the_whole(client, org, db):
    exports = cumulative_exports(WRITE_TOOL)
    for export in exports:
        send(client, org, "metrics", export)
    whole = totals(db, org)
    instants = sorted({int(point["timeUnixNano"]) // 1000 for export in exports
                       for _, point in data_points(export)})
    cuts = instants + [(a + b) // 2 for a, b in pairwise(instants)]
    for micros in cuts:
        cut = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        (before,) = analytics.usage(db, org.org.org_id, FROM, cut)
        (after,) = analytics.usage(db, org.org.org_id, cut, TO)
        assert before["cost_usd"] + after["cost_usd"] == whole["cost_usd"], cut
        for kind, count in whole["tokens"].items():
            assert before["tokens"][kind] + after["tokens"][kind] == count, (cut, kind)
        assert before["lines_added"] + after["lines_added"] == whole["lines_added"], cut
    assert whole["cost_usd"] == claude_result(WRITE_TOOL)["cost_usd"]


def test_a_session_with_api_requests_never_takes_cost_from_metrics_in_another_window(
        client, org, db):
    # Logs stop while metrics go on (a known Claude Code bug): the next day's metrics must
    # not be counted on top of the events, in a report of that day alone or of both days.
    send(client, org, "logs", fixture_bytes("bash-tool", "logs"))
    send(client, org, "metrics", shifted(body("bash-tool", "metrics"), DAY_NS))
    expected = claude_result("bash-tool")
    days = analytics.usage(db, org.org.org_id, FROM, TO, ["day"])
    assert [row["cost_usd"] for row in days] == [expected["cost_usd"], 0]
    next_day = datetime.fromisoformat(days[1]["key"]["day"]).replace(tzinfo=UTC)
    (alone,) = analytics.usage(db, org.org.org_id, next_day, TO)
    assert alone["cost_usd"] == 0 and alone["tokens"]["input"] == 0
    assert totals(db, org)["cost_usd"] == expected["cost_usd"]


def with_request_costs(name: str, costs: list[tuple[float | None, int | None]]) -> dict:
    """The session's logs with its api_request events' (cost_usd, cost_usd_micros) set to
    ``costs`` in turn (None: the attribute left out)."""
    logs = body(name, "logs")
    requests = [record for record in log_records(logs)
                if attributes(record)["event.name"] == "api_request"]
    assert len(requests) == len(costs)
    for record, (cost, micros) in zip(requests, costs, strict=True):
        kept = [attr for attr in record["attributes"]
                if attr["key"] not in ("cost_usd", "cost_usd_micros")]
        if cost is not None:
            kept.append({"key": "cost_usd", "value": {"doubleValue": cost}})
        if micros is not None:
            kept.append({"key": "cost_usd_micros", "value": {"intValue": str(micros)}})
        record["attributes"] = kept
    return logs


def reported_costs(db, org, session_id: str) -> set[Decimal]:
    """The session's cost as every report states it: detail, list, totals, and the sum of
    its groups by model and by day."""
    org_id = org.org.org_id
    return {analytics.session_totals(db, org_id, session_id)["cost_usd"],
            all_sessions(db, org)[0]["cost_usd"], totals(db, org)["cost_usd"],
            *(sum(row["cost_usd"] for row in analytics.usage(db, org_id, FROM, TO, [group]))
              for group in ("model", "day"))}


def test_a_requests_cost_counts_to_the_fraction_of_a_micro_dollar_as_claude_codes_total(
        client, org, db):
    # Claude Code rounds each request's cost_usd_micros, but adds the unrounded cost_usd to
    # its own total: two requests of 8,440.4 micro-dollars cost it 0.016881, where their
    # rounded figures add up to 0.016880.
    costs = [0.0084404, 0.0084404]
    send(client, org, "logs", with_request_costs("bash-tool", [
        (cost, round(cost * 1_000_000)) for cost in costs]))
    exact = sum(Decimal(repr(cost)) for cost in costs).quantize(MICRO)
    rounded = Decimal(sum(round(cost * 1_000_000) for cost in costs)) * MICRO

    assert exact != rounded
    assert reported_costs(db, org, session_id_of("bash-tool")) == {exact}
    detail = analytics.session_totals(db, org.org.org_id, session_id_of("bash-tool"))
    assert [entry["cost_usd"] for entry in detail["timeline"]
            if entry["event_name"] == "api_request"] == [Decimal("0.008440")] * 2


@pytest.mark.parametrize("costs, expected", [
    # The integer is the one to trust when the two disagree by a micro-dollar or more.
    ([(0.00844, 9000), (0.00844, 8440)], Decimal("0.017440")),
    # Either figure alone counts.
    ([(None, 8440), (0.0084404, None)], Decimal("0.016880")),
    ([(0.0084404, None), (0.0084404, None)], Decimal("0.016881")),
    # A micro-dollar count that truncated rather than rounded still agrees.
    ([(0.0084409, 8440), (0.0084409, 8440)], Decimal("0.016882")),
])
def test_a_requests_two_cost_figures_count_as_one(client, org, db, costs, expected):
    send(client, org, "logs", with_request_costs("bash-tool", costs))
    assert reported_costs(db, org, session_id_of("bash-tool")) == {expected}


def stored_as_before_0019(client, org, db) -> None:
    """Ingest a session of fractional request costs and one of whole micro-dollars, and
    give the first the rollup a release before 0019 wrote: its rounded micro-dollars."""
    costs = [0.0084404, 0.0084404]
    send(client, org, "logs", with_request_costs("bash-tool", [
        (cost, round(cost * 1_000_000)) for cost in costs]))
    send(client, org, "logs", fixture_bytes("failing-bash", "logs"))
    db.execute("UPDATE usage_rollup SET event_cost_micros = 16880 WHERE org_id = %s"
               " AND session_id = %s AND api_requests > 0",
               (org.org.org_id, session_id_of("bash-tool")))
    assert session_cost(db, org, "bash-tool") == Decimal("0.016880")


def session_cost(db, org, name: str) -> Decimal:
    return analytics.session_totals(db, org.org.org_id, session_id_of(name))["cost_usd"]


def listed_for_recount(conn, org) -> int:
    return conn.execute("SELECT count(*) FROM usage_recount WHERE org_id = %s",
                        (org.org.org_id,)).fetchone()[0]


def rollup_rows(db, name: str) -> list[tuple]:
    return db.execute("SELECT xmin::text, * FROM usage_rollup WHERE session_id = %s",
                      (session_id_of(name),)).fetchall()


def test_migration_0019_lists_the_sessions_stored_rounded_and_a_recount_fixes_them(
        client, org, db):
    stored_as_before_0019(client, org, db)
    untouched = rollup_rows(db, "failing-bash")
    migration = (schema.MIGRATIONS_DIR / "0019_request_cost_fractions.sql").read_text()

    with db.transaction():
        db.execute(migration[migration.index("DO $$"):])
    listed = db.execute("SELECT org_id, session_id FROM usage_recount WHERE org_id = %s",
                        (org.org.org_id,)).fetchall()
    recounted = rollup.recount_pending(db, org.org.org_id)

    assert listed == [(org.org.org_id, session_id_of("bash-tool"))]
    assert recounted == 1
    assert session_cost(db, org, "bash-tool") == Decimal("0.016881")
    assert listed_for_recount(db, org) == 0
    # Sessions whose costs were whole micro-dollars are left as they were.
    assert rollup_rows(db, "failing-bash") == untouched


def test_a_recount_commits_each_batch_before_it_takes_the_next(client, org, db,
                                                               database_url, monkeypatch):
    stored_as_before_0019(client, org, db)
    with org_transaction(db, org.org.org_id):
        db.execute("INSERT INTO usage_recount SELECT org_id, session_id FROM sessions"
                   " WHERE org_id = %s", (org.org.org_id,))
    monkeypatch.setattr(rollup, "RECOUNT_BATCH", 1)
    refresh, still_listed = rollup.refresh, []

    def watched(conn, org_id, session_ids, since=None):
        # What another connection sees listed while this batch is being recounted.
        with connect(database_url) as other:
            still_listed.append(listed_for_recount(other, org))
        return refresh(conn, org_id, session_ids, since)

    monkeypatch.setattr(rollup, "refresh", watched)
    recounted = rollup.recount_pending(db, org.org.org_id)

    assert recounted == 2
    # The first batch's session is gone for others before the second is recounted; the
    # last batch found none left.
    assert still_listed == [2, 1, 0]
    assert session_cost(db, org, "bash-tool") == Decimal("0.016881")


@pytest.mark.parametrize("command", [["init-db"], ["purge"]])
def test_init_db_and_every_purge_recount_what_is_listed(client, org, db, cli_env,
                                                        database_url, command):
    # init-db recounts right after the migrations; a purge finishes a recount an
    # interrupted init-db left.
    stored_as_before_0019(client, org, db)
    with org_transaction(db, org.org.org_id):
        db.execute("INSERT INTO usage_recount VALUES (%s, %s)",
                   (org.org.org_id, session_id_of("bash-tool")))

    result = CliRunner().invoke(cli, command,
                                env={**cli_env, "MOJULE_OWNER_DATABASE_URL": database_url})

    assert result.exit_code == 0, result.output
    assert session_cost(db, org, "bash-tool") == Decimal("0.016881")
    assert listed_for_recount(db, org) == 0
    if command == ["init-db"]:
        assert f"{org.org.slug}: recounted the usage of 1 session(s)" in result.stderr


def test_a_recount_batch_that_loses_a_deadlock_is_taken_again(client, org, db, monkeypatch):
    stored_as_before_0019(client, org, db)
    with org_transaction(db, org.org.org_id):
        db.execute("INSERT INTO usage_recount VALUES (%s, %s)",
                   (org.org.org_id, session_id_of("bash-tool")))
    refresh, tries = rollup.refresh, []

    def losing_once(conn, org_id, session_ids, since=None):
        tries.append(list(session_ids))
        if len(tries) == 1:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return refresh(conn, org_id, session_ids, since)

    monkeypatch.setattr(rollup, "refresh", losing_once)
    recounted = rollup.recount_pending(db, org.org.org_id)

    assert recounted == 1
    assert tries == [[session_id_of("bash-tool")]] * 2
    assert session_cost(db, org, "bash-tool") == Decimal("0.016881")
    assert listed_for_recount(db, org) == 0


def test_init_db_grants_the_app_role_before_a_recount_that_fails(fresh_database_url,
                                                                  master_key, monkeypatch):
    # A recount stopped midway (killed, or a lock it could not get) must not leave the
    # server and `mojule purge` without the new tables.
    def interrupted(conn, org_id):
        raise psycopg.errors.LockNotAvailable("stopped midway")

    with connect(fresh_database_url) as conn:
        schema.apply_migrations(conn)
        orgs.create_org(conn, "upgrading")     # the recount runs org by org
        conn.execute("DROP ROLE IF EXISTS mojule_upgrade_test")
    monkeypatch.setattr(rollup, "recount_pending", interrupted)

    result = CliRunner().invoke(cli, ["init-db", "--app-role", "mojule_upgrade_test"], env={
        "MOJULE_DATABASE_URL": fresh_database_url, "MOJULE_MASTER_KEY": master_key})

    assert result.exit_code != 0
    with connect(fresh_database_url) as conn:
        assert conn.execute("SELECT has_table_privilege('mojule_upgrade_test',"
                            " 'usage_recount', 'DELETE')").fetchone()[0]
        conn.execute("DROP OWNED BY mojule_upgrade_test")
        conn.execute("DROP ROLE mojule_upgrade_test")


def test_a_failing_recount_leaves_a_warning_and_the_purge_goes_on(client, org, other_org, db,
                                                                  monkeypatch):
    def failing(conn, org_id):
        raise psycopg.errors.LockNotAvailable("could not obtain lock")

    monkeypatch.setattr(rollup, "recount_pending", failing)
    results = retention.purge_expired_content(db, datetime.now(UTC))

    purged = {result.org_id: result for result in results}
    for test_org in (org, other_org):
        assert "usage recount left for the next purge" in purged[test_org.org.org_id].warning


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati"])
def test_day_and_week_keys_are_iso_dates_and_weeks_begin_on_monday(client, org, db, tz):
    send_sessions(client, org)
    send(client, org, "logs", shifted(body("bash-tool", "logs"), 3 * DAY_NS))

    rows = analytics.usage(db, org.org.org_id, FROM, TO, ["week", "day"], tz)

    assert len(rows) >= 2
    for row in rows:
        day, week = row["key"]["day"], row["key"]["week"]
        assert isinstance(day, str) and isinstance(week, str)
        assert date.fromisoformat(week).weekday() == 0
        assert date.fromisoformat(week) <= date.fromisoformat(day) < \
            date.fromisoformat(week) + timedelta(days=7)


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_month_keys_are_the_first_day_of_each_local_month(client, org, db, tz):
    # The fixtures' sessions, and the bash-tool session again 40 days before: two months.
    send_sessions(client, org)
    send(client, org, "logs", shifted(body("bash-tool", "logs"), -40 * DAY_NS))
    org_id = org.org.org_id

    by_day = analytics.usage(db, org_id, FROM, TO, ["day"], tz)
    by_month = analytics.usage(db, org_id, FROM, TO, ["month"], tz)

    # Each month's row sums its local days' rows.
    months = {}
    for row in by_day:
        month = date.fromisoformat(row["key"]["day"]).replace(day=1).isoformat()
        months.setdefault(month, []).append(row)
    assert len(months) == 2
    assert [row["key"]["month"] for row in by_month] == sorted(months)
    for row in by_month:
        days = months[row["key"]["month"]]
        assert row["cost_usd"] == sum(day["cost_usd"] for day in days)
        assert row["api_requests"] == sum(day["api_requests"] for day in days)
        assert row["tool_calls"] == sum(day["tool_calls"] for day in days)


def test_tool_groups_hold_the_tool_calls_and_the_rest_has_no_tool(client, org, db):
    send_sessions(client, org)
    rows = analytics.usage(db, org.org.org_id, FROM, TO, ["tool"])
    results = [result for name in SESSIONS for result in events(name, "tool_result")]

    by_tool = {row["key"]["tool"]: row for row in rows}
    assert {tool for tool in by_tool if tool is not None} == \
        {result["tool_name"] for result in results}
    for tool, row in by_tool.items():
        if tool is not None:
            assert row["tool_calls"] == sum(result["tool_name"] == tool for result in results)
            assert row["cost_usd"] == 0
    (totals,) = analytics.usage(db, org.org.org_id, FROM, TO)
    assert by_tool[None]["cost_usd"] == totals["cost_usd"] > 0


def with_attribute(item: dict, key: str, value: str) -> None:
    item["attributes"] = [attr for attr in item["attributes"] if attr["key"] != key] + \
        [{"key": key, "value": {"stringValue": value}}]


def test_spend_is_attributed_to_how_its_requests_were_made(client, org, db):
    # bash-tool's first request ran in fast mode at high effort; write-tool sent only its
    # metrics, whose cost points name their query source.
    logs = body("bash-tool", "logs")
    requests = [record for record in log_records(logs)
                if attributes(record)["event.name"] == "api_request"]
    with_attribute(requests[0], "speed", "fast")
    with_attribute(requests[0], "effort", "max")
    send(client, org, "logs", logs)
    send(client, org, "metrics", fixture_bytes(WRITE_TOOL, "metrics"))
    org_id = org.org.org_id

    def by(group: str) -> dict:
        return {row["key"][group]: row for row in analytics.usage(db, org_id, FROM, TO, [group])}

    (totals,) = analytics.usage(db, org_id, FROM, TO)
    first_cost = Decimal(str(attributes(requests[0])["cost_usd"])).quantize(MICRO)
    for group, value in (("speed", "fast"), ("effort", "max")):
        rows = by(group)
        assert rows[value]["api_requests"] == 1
        assert rows[value]["cost_usd"] == first_cost
        assert rows[value]["tool_calls"] == 0
        assert sum(row["cost_usd"] for row in rows.values()) == totals["cost_usd"]
    metric_sources = {attributes(point).get("query_source")
                      for metric, point in data_points(body(WRITE_TOOL, "metrics"))
                      if metric["name"] == "claude_code.cost.usage"}
    event_sources = {attributes(request)["query_source"] for request in requests}
    sources = by("query_source")
    assert set(sources) == metric_sources | event_sources | {None}
    assert sum(row["cost_usd"] for row in sources.values()) == totals["cost_usd"]
    assert sources[None]["cost_usd"] == 0     # every request named its source
    (metric_source,) = metric_sources
    assert sources[metric_source]["cost_usd"] == \
        metric_total(WRITE_TOOL, "claude_code.cost.usage").quantize(MICRO)


def test_one_request_source_per_report():
    with pytest.raises(BadParameter, match="speed and effort cannot be grouped together"):
        analytics.check_group_by(["speed", "effort"])
    assert analytics.check_group_by(["month", "speed"]) == ["month", "speed"]


def test_every_time_zone_reports_accept_postgresql_reads_as_python_does(db):
    # Day boundaries are cut in Python (the window) and in SQL (the day keys): a name
    # PostgreSQL does not know failed there as a 500, and one it reads as an abbreviation
    # of a fixed offset (CET) put summer usage in the day before.
    accepted = {name for name in analytics._zone_names()
                if analytics.time_zone_problem(name) is None}
    known = {row[0] for row in db.execute("SELECT name FROM pg_timezone_names")}
    abbreviations = dict(db.execute(
        "SELECT abbrev, utc_offset FROM pg_timezone_abbrevs").fetchall())

    assert "Europe/Berlin" in accepted and "UTC" in accepted
    assert accepted <= known
    for name in accepted & abbreviations.keys():
        zone = ZoneInfo(name)
        assert {datetime(year, month, 15, tzinfo=zone).utcoffset()
                for year in (1980, 2000, 2026) for month in (1, 7)} == {abbreviations[name]}
    for name in ("posix/Europe/Berlin", "right/UTC", "localtime", "CET", "Mars/Olympus", 3):
        assert analytics.time_zone_problem(name)


# --- the rest of the figures -----------------------------------------------------------

def test_usage_totals_equal_the_sum_of_the_sessions_under_every_grouping(client, org, db):
    send_sessions(client, org)
    sessions = all_sessions(db, org)
    for group_by in ([], ["day"], ["week"], ["month"], ["user"], ["model"], ["tool"],
                     ["terminal"], ["app_version"], ["attr:department"], ["day", "user"],
                     ["model", "attr:department"], ["month", "user"]):
        rows = analytics.usage(db, org.org.org_id, FROM, TO, group_by)
        for figure in ADDITIVE:
            assert sum(row[figure] for row in rows) == sum(s[figure] for s in sessions), \
                (group_by, figure)
        for kind in ("input", "output", "cache_read", "cache_creation"):
            assert sum(row["tokens"][kind] for row in rows) == \
                sum(s["tokens"][kind] for s in sessions), (group_by, kind)
        assert sum(row["active_time_s"] for row in rows) == \
            pytest.approx(sum(s["active_time_s"] for s in sessions))


def test_group_by_produces_the_keys_of_the_sessions(client, org, db):
    send_sessions(client, org)
    org_id = org.org.org_id

    def keys(group_by, tz="UTC"):
        return {tuple(row["key"].values())
                for row in analytics.usage(db, org_id, FROM, TO, group_by, tz)}

    departments = {attributes(body(name, "logs")["resourceLogs"][0]["resource"]).get("department")
                   for name in SESSIONS}
    assert keys(["attr:department"]) == {(department,) for department in departments}
    assert keys(["user"]) == {(seat_identity(name),) for name in SESSIONS}
    models = {request["model"] for name in SESSIONS for request in events(name, "api_request")}
    # Active time, tool calls and the like belong to no model.
    assert keys(["model"]) == {(model,) for model in models} | {(None,)}
    for tz in ("UTC", "Pacific/Kiritimati", "America/Los_Angeles"):
        days = {datetime.fromtimestamp(int(record["timeUnixNano"]) / 1e9, ZoneInfo(tz))
                .date().isoformat()
                for name in SESSIONS for record in log_records(body(name, "logs"))
                if attributes(record)["event.name"] == "api_request"}
        assert keys(["day"], tz) == {(day,) for day in days}
    assert {key[0] for key in keys(["user", "attr:department"])} == \
        {seat_identity(name) for name in SESSIONS}


def test_model_suffixes_are_grouped_and_the_raw_names_kept(client, org, db):
    model = events(WRITE_TOOL, "api_request")[0]["model"]
    for name in SESSIONS:
        logs = fixture_bytes(name, "logs")
        if name == WRITE_TOOL:
            logs = logs.replace(f'"{model}"'.encode(), f'"{model}[1m]"'.encode())
        send(client, org, "logs", logs)
        send(client, org, "metrics", fixture_bytes(name, "metrics"))
    rows = analytics.usage(db, org.org.org_id, FROM, TO, ["model"])
    (grouped,) = [row for row in rows if row["key"]["model"] == model]
    assert grouped["models"] == [model, f"{model}[1m]"]
    assert grouped["cost_usd"] == totals(db, org)["cost_usd"]
    assert len(all_sessions(db, org, model=f"{model}[1m]")) == len(SESSIONS)
    assert all_sessions(db, org, model="claude-none-0") == []


def test_session_detail_counts_tools_edits_and_lines_from_the_fixture(client, org, db):
    send_sessions(client, org)
    for name in SESSIONS:
        detail = analytics.session_totals(db, org.org.org_id, claude_result(name)["session_id"])
        results, decisions = events(name, "tool_result"), events(name, "tool_decision")
        assert detail["tools"] == {
            tool: {"calls": len(calls),
                   "successes": sum(call["success"] == "true" for call in calls),
                   "failures": sum(call["success"] == "false" for call in calls),
                   "avg_duration_ms": round(mean(float(call["duration_ms"]) for call in calls),
                                            3),
                   "accepted": sum(d["decision"] == "accept" for d in decisions
                                   if d["tool_name"] == tool),
                   "rejected": sum(d["decision"] == "reject" for d in decisions
                                   if d["tool_name"] == tool)}
            for tool in {call["tool_name"] for call in results}
            for calls in [[call for call in results if call["tool_name"] == tool]]}
        edits = Counter()
        for metric, point in data_points(body(name, "metrics")):
            if metric["name"] == "claude_code.code_edit_tool.decision":
                point_attributes = attributes(point)
                edits[point_attributes["tool_name"], point_attributes["language"],
                      point_attributes["decision"]] += point["asDouble"]
        assert {(edit["tool_name"], edit["language"], decision): edit[decision + "ed"]
                for edit in detail["code_edits"] for decision in ("accept", "reject")
                if edit[decision + "ed"]} == edits
        assert detail["lines_added"] == metric_total(name, "claude_code.lines_of_code.count",
                                                     type="added")
        assert detail["api_requests"] == len(events(name, "api_request"))
        assert detail["active_time_s"] == pytest.approx(
            float(metric_total(name, "claude_code.active_time.total")))


def test_session_timeline_lists_every_event_with_content_names_but_no_content(client, org, db):
    send(client, org, "logs", fixture_bytes(WRITE_TOOL, "logs"))
    detail = analytics.session_totals(db, org.org.org_id, claude_result(WRITE_TOOL)["session_id"])
    records = sorted(log_records(body(WRITE_TOOL, "logs")),
                     key=lambda record: (int(record["timeUnixNano"]),
                                         attributes(record)["event.sequence"]))
    assert [entry["event_name"] for entry in detail["timeline"]] == \
        [attributes(record)["event.name"] for record in records]
    (prompt,) = [entry for entry in detail["timeline"] if entry["event_name"] == "user_prompt"]
    assert "prompt" in prompt["content_keys"]
    dumped = json.dumps(detail, default=str)
    for record in records:
        for key in ("prompt", "response", "tool_input", "tool_parameters"):
            value = attributes(record).get(key)
            assert value is None or value not in dumped
    assert detail["timeline_truncated"] is False


@pytest.mark.parametrize("name", SESSIONS)
def test_each_api_request_in_the_timeline_carries_its_cost_and_tokens(client, org, db, name):
    send(client, org, "logs", fixture_bytes(name, "logs"))
    detail = analytics.session_totals(db, org.org.org_id, claude_result(name)["session_id"])
    requests = [entry for entry in detail["timeline"] if entry["event_name"] == "api_request"]
    sent = events(name, "api_request")

    assert len(requests) == len(sent) > 0
    assert sorted(entry["cost_usd"] for entry in requests) == sorted(
        Decimal(repr(event["cost_usd"])).quantize(MICRO) for event in sent)
    assert sum(entry["cost_usd"] for entry in requests) == detail["cost_usd"]
    for short, attribute in (("input", "input_tokens"), ("output", "output_tokens"),
                             ("cache_read", "cache_read_tokens"),
                             ("cache_creation", "cache_creation_tokens")):
        assert sum(entry["tokens"][short] for entry in requests) == \
            sum(int(event[attribute]) for event in sent) == detail["tokens"][short]
    others = [entry for entry in detail["timeline"] if entry["event_name"] != "api_request"]
    assert not any("cost_usd" in entry or "tokens" in entry for entry in others)


def test_api_errors_and_exhausted_retries_are_counted_but_cost_nothing(client, org, db):
    send_sessions(client, org, signals=("logs",))
    logs = body("bash-tool", "logs")
    scope = logs["resourceLogs"][0]["scopeLogs"][0]
    request = next(record for record in scope["logRecords"]
                   if attributes(record)["event.name"] == "api_request")
    failures = []
    for sequence, event_name in enumerate(("api_error", "api_retries_exhausted"), start=100):
        failure = copy.deepcopy(request)
        failure["body"] = {"stringValue": f"claude_code.{event_name}"}
        for attr in failure["attributes"]:
            if attr["key"] == "event.name":
                attr["value"] = {"stringValue": event_name}
            if attr["key"] == "event.sequence":
                attr["value"] = {"intValue": sequence}
        failures.append(failure)
    scope["logRecords"] = failures
    send(client, org, "logs", logs)
    detail = analytics.session_totals(db, org.org.org_id, claude_result("bash-tool")["session_id"])
    assert (detail["api_errors"], detail["api_retries_exhausted"]) == (1, 1)
    assert detail["api_requests"] == len(events("bash-tool", "api_request"))
    assert detail["cost_usd"] == claude_result("bash-tool")["cost_usd"]


@pytest.mark.parametrize("first", ["session.count", "active time"])
def test_agents_view_processes_are_not_counted_as_sessions(client, org, db, first):
    # The `claude agents` UI process reports itself with a session.count point of
    # start_type agents_view, and may report active time under the same session id: its
    # time counts, but it is no session, whichever of its points comes first.
    send_sessions(client, org)
    before = totals(db, org)
    metrics = body("bash-tool", "metrics")
    agents_view = str(uuid.uuid4())
    kept = ("claude_code.session.count", "claude_code.active_time.total")
    for scope in metrics["resourceMetrics"][0]["scopeMetrics"]:
        scope["metrics"] = [metric for metric in scope["metrics"] if metric["name"] in kept]
    for _, point in data_points(metrics):
        for attr in point["attributes"]:
            if attr["key"] == "start_type":
                attr["value"] = {"stringValue": "agents_view"}
            if attr["key"] == "session.id":
                attr["value"] = {"stringValue": agents_view}
    parts = {name: copy.deepcopy(metrics) for name in kept}
    for name, part in parts.items():
        for scope in part["resourceMetrics"][0]["scopeMetrics"]:
            scope["metrics"] = [metric for metric in scope["metrics"] if metric["name"] == name]
    order = kept if first == "session.count" else kept[::-1]
    for name in order:
        send(client, org, "metrics", parts[name])

    after = totals(db, org)
    assert after["sessions"] == before["sessions"] == len(SESSIONS)
    # Grouped by day and user, the sessions read whole reach the last aggregate one row
    # each rather than summed per group (accounting.WHOLE_SESSIONS): the same count.
    by_day_and_user = analytics.usage(db, org.org.org_id, FROM, TO, ["day", "user"])
    assert sum(row["sessions"] for row in by_day_and_user) == len(SESSIONS)
    assert after["active_time_s"] == before["active_time_s"] + float(
        metric_total("bash-tool", "claude_code.active_time.total"))
    (process,) = [row for row in all_sessions(db, org) if row["session_id"] == agents_view]
    assert process["agents_view"] and not process["unattributed"]


def test_migration_0009_marks_the_agents_view_processes_already_stored(client, org, db):
    send_sessions(client, org)
    metrics = body("bash-tool", "metrics")
    for _, point in data_points(metrics):
        for attr in point["attributes"]:
            if attr["key"] == "start_type":
                attr["value"] = {"stringValue": "agents_view"}
    send(client, org, "metrics", metrics)
    # As a release before 0009 stored it: no mark.
    db.execute("UPDATE sessions SET agents_view = false WHERE org_id = %s", (org.org.org_id,))
    migration = (schema.MIGRATIONS_DIR / "0009_agents_view_sessions.sql").read_text()

    with db.transaction():
        db.execute(migration[migration.index("DO $$"):])

    marked = db.execute("SELECT session_id FROM sessions WHERE org_id = %s AND agents_view",
                        (org.org.org_id,)).fetchall()
    assert marked == [(session_id_of("bash-tool"),)]


# --- who sees what, paging --------------------------------------------------------------

def test_a_member_sees_only_the_sessions_of_their_seat(client, org, db):
    send_sessions(client, org)
    alice = {"email": ["Alice@Example.com"], "account_uuid": [], "user_id": []}
    org_id = org.org.org_id
    (own,) = analytics.usage(db, org_id, FROM, TO, seats=alice)
    assert own["cost_usd"] == claude_result(WRITE_TOOL)["cost_usd"]
    assert [row["session_id"] for row in all_sessions(db, org, seats=alice)] == \
        [claude_result(WRITE_TOOL)["session_id"]]
    assert analytics.session_totals(db, org_id, claude_result("bash-tool")["session_id"],
                                    seats=alice) is None
    nobody = {"email": [], "account_uuid": [], "user_id": []}
    assert analytics.usage(db, org_id, FROM, TO, seats=nobody)[0]["cost_usd"] == 0


def test_a_report_reads_one_snapshot_however_many_statements_it_runs(client, org, db):
    # A session's detail, or the Admin-API-shaped report, is several statements: an ingest
    # that commits between them must not make them disagree.
    org_id = org.org.org_id
    send(client, org, "logs", fixture_bytes("bash-tool", "logs"))
    scope = accounting.Scope(FROM, TO)
    with accounting.transaction(db, org_id):
        before = accounting.report(db, org_id, scope, [])
        send(client, org, "logs", fixture_bytes("failing-bash", "logs"))   # commits meanwhile
        during = accounting.report(db, org_id, scope, [])
    with accounting.transaction(db, org_id):
        after = accounting.report(db, org_id, scope, [])

    assert during == before and before[0]["sessions"] == 1
    assert after[0]["sessions"] == 2


def test_another_orgs_session_is_not_found(client, org, other_org, db):
    send_sessions(client, org, signals=("logs",))
    session_id = claude_result("bash-tool")["session_id"]
    assert analytics.session_totals(db, other_org.org.org_id, session_id) is None
    assert all_sessions(db, other_org) == []


def test_sessions_page_newest_first_through_the_cursor(client, org, db):
    send_sessions(client, org)
    seen, cursor = [], None
    for _ in SESSIONS:
        rows, cursor = analytics.list_sessions(db, org.org.org_id, FROM, TO, limit=1,
                                               cursor=cursor)
        seen += rows
    assert cursor is None
    assert [row["session_id"] for row in seen] == \
        [row["session_id"] for row in sorted(all_sessions(db, org),
                                             key=lambda row: row["last_seen"], reverse=True)]
    assert {row["session_id"] for row in seen} == {claude_result(n)["session_id"] for n in SESSIONS}


# --- bad parameters --------------------------------------------------------------------

@pytest.mark.parametrize("group_by", [["hour"], ["day", "user", "model"], ["day", "day"],
                                      ["attr:"], ["attr:no spaces"], ["session"]])
def test_bad_group_by_raises_naming_the_parameter(db, org, group_by):
    with pytest.raises(BadParameter, match="group_by") as raised:
        analytics.usage(db, org.org.org_id, FROM, TO, group_by)
    assert raised.value.parameter == "group_by"


@pytest.mark.parametrize("call, parameter", [
    (lambda db, org_id: analytics.usage(db, org_id, FROM, TO, tz="Mars/Olympus"), "tz"),
    (lambda db, org_id: analytics.usage(db, org_id, TO, FROM), "to"),
    (lambda db, org_id: analytics.usage(db, org_id, datetime(2026, 1, 1), TO), "from"),
    (lambda db, org_id: analytics.list_sessions(db, org_id, FROM, TO, cursor="nonsense"),
     "cursor"),
    (lambda db, org_id: analytics.list_sessions(db, org_id, FROM, TO, limit=0), "limit"),
])
def test_bad_parameters_raise_naming_the_parameter(db, org, call, parameter):
    with pytest.raises(BadParameter, match=parameter) as raised:
        call(db, org.org.org_id)
    assert raised.value.parameter == parameter


def test_a_report_runs_with_room_to_sort_and_without_jit(client, org, db):
    send_sessions(client, org, signals=("logs",))
    server_default = db.execute("SHOW jit").fetchone()[0]
    with accounting.transaction(db, org.org.org_id):
        accounting.report(db, org.org.org_id, accounting.Scope(FROM, TO), ["day"])
        settings = {name: db.execute(f"SHOW {name}").fetchone()[0] for name in ("work_mem", "jit")}
    assert settings == {"work_mem": "64MB", "jit": "off"}
    # Transaction-local: the pooled connection goes back as it came.
    assert db.execute("SHOW jit").fetchone()[0] == server_default


def test_the_servers_connections_never_compile_statements_with_jit(app):
    with app.app_context():
        assert get_connection().execute("SHOW jit").fetchone()[0] == "off"


def forged_point(db, ids: dict, source_metric: str, tag: bytes,
                 attributes: dict | None = None, **changes) -> tuple:
    """Insert a copy of one of the session's points of ``source_metric``, under a record
    id and series of its own (``tag`` appended), with ``changes`` over its columns and
    ``attributes`` over its attributes, as a release that took negative points stored it;
    return its record id and time."""
    return db.execute(
        "INSERT INTO metric_points SELECT (jsonb_populate_record(NULL::metric_points,"
        " to_jsonb(m) || jsonb_build_object("
        "  'record_id', (m.record_id || %(tag)s::bytea)::text,"
        "  'series_hash', (m.series_hash || %(tag)s::bytea)::text,"
        "  'attributes', m.attributes || %(attributes)s::jsonb) || %(changes)s::jsonb)).*"
        " FROM metric_points AS m WHERE m.org_id = %(org_id)s"
        " AND m.session_id = %(session_id)s AND m.metric_name = %(source)s LIMIT 1"
        " RETURNING record_id, time",
        {**ids, "tag": tag, "source": source_metric, "attributes": Jsonb(attributes or {}),
         "changes": Jsonb(changes)}).fetchone()


def stored_as_before_0027(db, org, session_id: str) -> dict:
    """Store what a release before 0027 let anyone holding the org's token add to a
    session, and count it as that release did: a request of negative cost and tokens,
    negative points of Claude Code's lines and active-time counters (one carrying
    content), and a span of negative duration and tokens. Return the span's own length.

    Every statement names the org: the test connection is not held to row security, and
    other tests' orgs hold the same session.
    """
    ids = {"org_id": org.org.org_id, "session_id": session_id}
    with org_transaction(db, org.org.org_id):
        db.execute("INSERT INTO log_events SELECT (jsonb_populate_record(NULL::log_events,"
                   " to_jsonb(e) || jsonb_build_object("
                   "  'record_id', (e.record_id || '\\x01'::bytea)::text,"
                   "  'input_tokens', -900000, 'output_tokens', -1, 'cache_read_tokens', -1,"
                   "  'cache_creation_tokens', -1, 'cost_usd', -5.5,"
                   "  'cost_usd_micros', -5500000, 'duration_ms', -1))).*"
                   " FROM log_events AS e WHERE e.org_id = %(org_id)s"
                   " AND e.session_id = %(session_id)s AND e.event_name = 'api_request'"
                   " LIMIT 1", ids)
        forged = [forged_point(db, ids, "claude_code.lines_of_code.count", b"\x01",
                               attributes={"type": "added"}, type="added", value=-1000,
                               temporality=1),
                  forged_point(db, ids, "claude_code.active_time.total", b"\x01",
                               value=-1000, temporality=1)]
        db.execute("INSERT INTO content_values SELECT org_id, %(time)s, 'metrics',"
                   " %(record_id)s, attribute, session_id, dek_id, ciphertext"
                   " FROM content_values WHERE org_id = %(org_id)s"
                   " AND session_id = %(session_id)s LIMIT 1",
                   {**ids, "record_id": forged[0][0], "time": forged[0][1]})
        span = db.execute(
            "UPDATE spans SET duration_ms = -5, input_tokens = -3"
            " WHERE org_id = %(org_id)s AND (trace_id, span_id) = ("
            "  SELECT trace_id, span_id FROM spans WHERE org_id = %(org_id)s"
            "   AND session_id = %(session_id)s ORDER BY start_time LIMIT 1)"
            " RETURNING trace_id, span_id,"
            " (end_time_unix_nano - start_time_unix_nano) / 1e6::float8", ids).fetchone()
        # A session of nothing but a negative cost, and a gauge of another name that may
        # well go below zero (kept).
        db.execute("INSERT INTO sessions SELECT (jsonb_populate_record(NULL::sessions,"
                   " to_jsonb(s) || jsonb_build_object('session_id', 'forged',"
                   "  'has_api_requests', false))).*"
                   " FROM sessions AS s WHERE s.org_id = %(org_id)s"
                   " AND s.session_id = %(session_id)s", ids)
        forged_point(db, ids, "claude_code.cost.usage", b"cost", session_id="forged",
                     value=-5, is_monotonic=False, temporality=1)
        forged_point(db, ids, "claude_code.cost.usage", b"gauge",
                     metric_name="system.temperature.delta", kind="gauge", value=-2,
                     is_monotonic=False, temporality=1)
        # A negative start of the `claude agents` process, which made the session none.
        forged_point(db, ids, "claude_code.session.count", b"\x02", value=-1,
                     attributes={"start_type": "agents_view"})
        db.execute("UPDATE sessions SET agents_view = true WHERE org_id = %(org_id)s"
                   " AND session_id = %(session_id)s", ids)
        rollup.refresh(db, org.org.org_id, [session_id, "forged"])
    return {"trace_id": span[0], "span_id": span[1], "length_ms": span[2]}


def test_migration_0027_drops_the_negative_usage_stored_and_a_recount_restores_the_totals(
        client, org, db):
    for signal in ("logs", "metrics", "traces"):
        send(client, org, signal, fixture_bytes(WRITE_TOOL, signal))
    session_id, org_id = session_id_of(WRITE_TOOL), org.org.org_id
    figures = ("cost_usd", "tokens", "lines_added", "active_time_s", "api_requests")

    def session_figures() -> dict:
        detail = analytics.session_totals(db, org_id, session_id)
        return {figure: detail[figure] for figure in figures}

    honest, honest_cost = session_figures(), totals(db, org)["cost_usd"]
    span = stored_as_before_0027(db, org, session_id)
    forged, forged_cost = session_figures(), totals(db, org)["cost_usd"]
    migration = (schema.MIGRATIONS_DIR / "0027_negative_usage_dropped.sql").read_text()

    with db.transaction():
        db.execute(migration[migration.index("DO $$"):])
    recounted = rollup.recount_pending(db, org_id)

    # The forged figures had lowered the session's usage; the forged request is still a
    # request, with no figures of its own.
    assert [figure for figure in figures if forged[figure] == honest[figure]] == []
    assert forged_cost < honest_cost - 5
    assert recounted == 2
    assert session_figures() == {**honest, "api_requests": honest["api_requests"] + 1}
    assert totals(db, org)["cost_usd"] == honest_cost
    with org_transaction(db, org_id):
        negative_points = db.execute("SELECT array_agg(metric_name) FROM metric_points"
                                     " WHERE org_id = %s AND value < 0",
                                     (org_id,)).fetchone()[0]
        metric_content = db.execute("SELECT count(*) FROM content_values"
                                    " WHERE org_id = %s AND signal = 'metrics'",
                                    (org_id,)).fetchone()[0]
        span_figures = db.execute("SELECT duration_ms, input_tokens FROM spans"
                                  " WHERE org_id = %s AND trace_id = %s AND span_id = %s",
                                  (org_id, span["trace_id"], span["span_id"])).fetchone()
    assert (negative_points, metric_content) == (["system.temperature.delta"], 0)
    assert span_figures == (span["length_ms"], None)
    assert db.execute("SELECT agents_view FROM sessions WHERE org_id = %s AND session_id = %s",
                      (org_id, session_id)).fetchone() == (False,)

