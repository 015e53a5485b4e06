"""The usage rollup equals a recomputation from the raw rows, and reports read from it equal
reports read from the raw rows alone, whatever the exporter sent and wherever a window cuts.

The real fixture sessions go through the HTTP ingest path, spread over several quarter
hours and two days, as delta, cumulative (out of order, one export late by half an hour)
and duplicated exports, logs alone and metrics alone.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mojule import accounting, analytics, orgs, schema
from mojule.accounting import Scope
from mojule.db import connect
from tests.conftest import fixture_bytes
from tests.test_analytics import (
    FROM,
    SESSIONS,
    TO,
    body,
    claude_result,
    cumulative_exports,
    data_points,
    send,
    shifted,
)
from tests.upgrades import install_release_before, upgrade_while_ingesting

MINUTE_NS = 60 * 10**9
# Where each fixture session is moved to: quarter hours apart, one of them a day later.
OFFSETS = {"bash-tool": 0, "failing-bash": 37 * MINUTE_NS,
           "write-tool-resource-attrs": (24 * 60 + 3 * 60 + 11) * MINUTE_NS}
# ["day", "user"] and ["session"] read the sessions read whole one row each, the others
# summed ahead per group (accounting.WHOLE_SESSIONS).
GROUPINGS = ([], ["day"], ["week"], ["month"], ["model"], ["user"], ["attr:department"],
             ["session"], ["day", "model"], ["terminal", "app_version"], ["day", "user"],
             ["month", "tool"])


def late_cumulative_exports(name: str) -> list[dict]:
    """The session's metrics as one cumulative run over 50 minutes: points at 0, 20 and 40
    minutes past its start reaching a quarter, half and all of each delta value. The last
    arrives first and the one at 20 minutes last, after the quarter hour it falls in."""
    exports = {}
    for minutes, share in ((0, Decimal("0.25")), (20, Decimal("0.5")), (40, Decimal(1))):
        export = body(name, "metrics")
        for metric, point in data_points(export):
            metric["sum"]["aggregationTemporality"] = 2
            start = int(point["startTimeUnixNano"]) - MINUTE_NS
            value = Decimal(repr(point["asDouble"]))
            point.update(startTimeUnixNano=str(start),
                         timeUnixNano=str(start + (minutes + 10) * MINUTE_NS),
                         asDouble=float(value * share))
        exports[minutes] = export
    return [exports[40], exports[0], exports[40], exports[20]]


def small_batches(logs: dict, size: int = 3) -> list[dict]:
    """The log export split into exports of ``size`` records, in order."""
    (resource,) = logs["resourceLogs"]
    (scope,) = resource["scopeLogs"]
    records = scope["logRecords"]
    return [{"resourceLogs": [{**resource, "scopeLogs": [
                {**scope, "logRecords": records[start:start + size]}]}]}
            for start in range(0, len(records), size)]


def send_everything(client, org, variant: str) -> None:
    for name in SESSIONS:
        offset = OFFSETS[name]
        if variant in ("logs and metrics", "logs only", "every batch twice"):
            for _ in range(2 if variant == "every batch twice" else 1):
                send(client, org, "logs", shifted(body(name, "logs"), offset))
        if variant in ("logs and metrics", "metrics only", "every batch twice"):
            for _ in range(2 if variant == "every batch twice" else 1):
                send(client, org, "metrics", shifted(body(name, "metrics"), offset))
        if variant == "logs in small batches":
            # Later events of a quarter hour are added to the rows that the metrics and the
            # earlier events wrote; the session's events again a minute later, so that
            # every kind of event meets one like it.
            send(client, org, "metrics", shifted(body(name, "metrics"), offset))
            for later in (0, MINUTE_NS):
                for export in small_batches(shifted(body(name, "logs"), offset + later)):
                    send(client, org, "logs", export)
        if variant == "cumulative":
            for export in cumulative_exports(name):
                send(client, org, "metrics", shifted(export, offset))
        if variant == "late cumulative":
            send(client, org, "logs", shifted(body(name, "logs"), offset))
            for export in late_cumulative_exports(name):
                send(client, org, "metrics", shifted(export, offset))


VARIANTS = ("logs and metrics", "logs only", "metrics only", "every batch twice",
            "logs in small batches", "cumulative", "late cumulative")


def stored_rollup(db, org_id: int) -> list[tuple]:
    return db.execute("SELECT * FROM usage_rollup WHERE org_id = %s "
                      "ORDER BY session_id, bucket, model NULLS FIRST", (org_id,)).fetchall()


def recomputed_rollup(db, org_id: int) -> list[tuple]:
    return db.execute(
        "SELECT * FROM mojule_usage_rollup_rows(%(org)s, ARRAY(SELECT session_id FROM sessions"
        " WHERE org_id = %(org)s), ARRAY(SELECT '-infinity'::timestamptz FROM sessions"
        " WHERE org_id = %(org)s)) ORDER BY session_id, bucket, model NULLS FIRST",
        {"org": org_id}).fetchall()


def stored_session_usage(db, org_id: int) -> list[tuple]:
    return db.execute("SELECT * FROM session_usage WHERE org_id = %s "
                      "ORDER BY session_id, per_model, model NULLS FIRST", (org_id,)).fetchall()


def recomputed_session_usage(db, org_id: int) -> list[tuple]:
    return db.execute(
        "SELECT * FROM mojule_session_usage_rows(%(org)s, ARRAY(SELECT session_id"
        " FROM sessions WHERE org_id = %(org)s)) ORDER BY session_id, per_model,"
        " model NULLS FIRST", {"org": org_id}).fetchall()


def report(db, org_id: int, start: datetime, end: datetime, groups, tz="UTC",
           use_rollup=True) -> list[dict]:
    with accounting.transaction(db, org_id):
        return accounting.report(db, org_id, Scope(start, end), groups, tz, use_rollup)


@pytest.mark.parametrize("variant", VARIANTS)
def test_rollup_equals_a_recomputation_from_the_raw_rows(client, org, db, variant):
    org_id = org.org.org_id
    send_everything(client, org, variant)
    send_everything(client, org, variant)

    stored = stored_rollup(db, org_id)
    assert stored and stored == recomputed_rollup(db, org_id)
    totals = stored_session_usage(db, org_id)
    assert totals and totals == recomputed_session_usage(db, org_id)
    assert len({row[2] for row in stored}) >= len(SESSIONS)   # quarter hours apart
    flags = db.execute(
        "SELECT s.has_api_requests, EXISTS (SELECT 1 FROM log_events AS e WHERE e.org_id ="
        " s.org_id AND e.session_id = s.session_id AND e.event_name = 'api_request')"
        " FROM sessions AS s WHERE s.org_id = %s", (org_id,)).fetchall()
    assert flags and all(flag == expected for flag, expected in flags)


@pytest.mark.parametrize("variant", VARIANTS)
def test_reports_from_the_rollup_equal_reports_from_the_raw_rows(client, org, db, variant):
    org_id = org.org.org_id
    send_everything(client, org, variant)
    times = sorted({row[0] for row in db.execute(
        "SELECT time FROM log_events WHERE org_id = %(org)s"
        " UNION SELECT time FROM metric_points WHERE org_id = %(org)s", {"org": org_id})})
    # Windows that cut quarter hours anywhere, at a record or just beside it, and whole ones.
    cuts = [FROM, times[0], times[len(times) // 3] + timedelta(microseconds=1),
            times[len(times) // 2], times[-1], times[-1] + timedelta(microseconds=1), TO]
    windows = [(start, end) for start in cuts for end in cuts if start < end]
    for start, end in windows:
        for groups in GROUPINGS:
            assert report(db, org_id, start, end, groups) == \
                report(db, org_id, start, end, groups, use_rollup=False), (start, end, groups)
    for tz in ("Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"):
        assert report(db, org_id, FROM, TO, ["day"], tz) == \
            report(db, org_id, FROM, TO, ["day"], tz, use_rollup=False)
    assert accounting.rollup_span(FROM, TO, ["day"], "UTC") != (FROM, FROM)   # it was used


@pytest.mark.parametrize("variant", ["logs and metrics", "cumulative"])
def test_a_report_kept_to_a_resource_attribute_equals_that_attributes_group(client, org, db,
                                                                             variant):
    org_id = org.org.org_id
    send_everything(client, org, variant)
    # The platform session's last record of cost: some of its cost falls each side of it.
    (cut,) = db.execute(
        "SELECT max(time) FROM (SELECT session_id, time FROM log_events WHERE org_id = %(org)s"
        " AND event_name = 'api_request' UNION ALL SELECT session_id, time FROM metric_points"
        " WHERE org_id = %(org)s AND metric_name = 'claude_code.cost.usage') AS cost"
        " WHERE session_id IN (SELECT session_id FROM sessions WHERE org_id = %(org)s"
        " AND resource_attributes ->> 'department' = 'platform')", {"org": org_id}).fetchone()
    costs = []
    for start, end in ((FROM, TO), (FROM, cut), (cut, TO)):
        window = Scope(start, end, attributes=(("department", "platform"),))
        grouped = {row["key"]["attr:department"]: row
                   for row in report(db, org_id, start, end, ["attr:department"])}
        for groups in ([], ["day", "model"]):
            with accounting.transaction(db, org_id):
                kept = accounting.report(db, org_id, window, groups)
                raw = accounting.report(db, org_id, window, groups, use_rollup=False)
            assert kept == raw, (start, end, groups)
        with accounting.transaction(db, org_id):
            (total,) = accounting.report(db, org_id, window, [])
        assert {**total, "key": {}} == {**grouped["platform"], "key": {}}, (start, end)
        assert total["sessions"] == 1
        costs.append(total["cost_usd"])
    assert costs[0] == costs[1] + costs[2] > 0


def test_late_cumulative_points_cost_what_claude_code_reported(client, org, db):
    send_everything(client, org, "late cumulative")
    for name in SESSIONS:
        expected = claude_result(name)
        detail = analytics.session_totals(db, org.org.org_id, expected["session_id"])
        assert (detail["cost_usd"], detail["tokens"]) == (expected["cost_usd"],
                                                         expected["tokens"])
    (total,) = analytics.usage(db, org.org.org_id, FROM, TO)
    assert total["cost_usd"] == sum(claude_result(name)["cost_usd"] for name in SESSIONS)


def test_a_retried_batch_changes_nothing_in_the_rollup(client, org, db):
    org_id = org.org.org_id
    send(client, org, "logs", fixture_bytes("bash-tool", "logs"))
    before = stored_rollup(db, org_id)
    send(client, org, "logs", json.loads(fixture_bytes("bash-tool", "logs")))
    assert stored_rollup(db, org_id) == before


@pytest.mark.parametrize("groups", [[], ["model"], ["day", "user"]])
def test_sessions_wholly_inside_the_window_are_read_from_their_totals(client, org, db, groups):
    org_id = org.org.org_id
    send_everything(client, org, "logs and metrics")
    before = report(db, org_id, FROM, TO, groups)
    assert before == report(db, org_id, FROM, TO, groups, use_rollup=False)

    # A dollar more on every row of session_usage shows in the report, and only there.
    db.execute("UPDATE session_usage SET whole_micros = whole_micros + 1000000"
               " WHERE org_id = %s AND per_model = %s", (org_id, "model" in groups))
    after = report(db, org_id, FROM, TO, groups)

    rows = db.execute("SELECT count(*) FROM session_usage WHERE org_id = %s AND per_model = %s",
                      (org_id, "model" in groups)).fetchone()[0]
    assert rows >= len(SESSIONS)
    assert sum(row["cost_usd"] for row in after) - sum(row["cost_usd"] for row in before) == rows
    assert report(db, org_id, FROM, TO, groups, use_rollup=False) == before



@pytest.mark.parametrize("groups", [[], ["user"], ["day", "user"], ["session"], ["model"]])
def test_a_session_read_whole_names_every_model_it_used(client, org, db, groups):
    # The recorded sessions used one model each: here a session's last request used
    # another, so its totals row lists two, and reports read whole must name both.
    org_id = org.org.org_id
    logs = body("bash-tool", "logs")
    requests = [record for resource in logs["resourceLogs"] for scope in resource["scopeLogs"]
                for record in scope["logRecords"]
                if record["body"]["stringValue"] == "claude_code.api_request"]
    (model,) = [item for item in requests[-1]["attributes"] if item["key"] == "model"]
    used = sorted({model["value"]["stringValue"], "claude-haiku-5"})
    model["value"] = {"stringValue": "claude-haiku-5"}
    send(client, org, "logs", logs)

    (models,) = db.execute("SELECT models FROM session_usage WHERE org_id = %s"
                           " AND NOT per_model", (org_id,)).fetchone()
    rows = report(db, org_id, FROM, TO, groups)

    assert sorted(models) == used
    assert sorted(model for row in rows for model in row["models"]) == used
    assert rows == report(db, org_id, FROM, TO, groups, use_rollup=False)

# What a session learns of its seat and client (sql/session_upsert.sql fills them in once).
IDENTITY_KEYS = ("user.email", "user.account_uuid", "user.account_id", "user.id",
                 "organization.id", "terminal.type", "app.version", "service.version")


def anonymous(payload: dict) -> dict:
    """The payload without any attribute naming the seat, terminal or app version."""
    if isinstance(payload, list):
        return [anonymous(item) for item in payload]
    if not isinstance(payload, dict):
        return payload
    return {key: [attr for attr in value if attr.get("key") not in IDENTITY_KEYS]
            if key == "attributes" else anonymous(value) for key, value in payload.items()}


def only_events(logs: dict, name: str) -> dict:
    logs = json.loads(json.dumps(logs))
    for scope in logs["resourceLogs"][0]["scopeLogs"]:
        scope["logRecords"] = [record for record in scope["logRecords"]
                               if record["body"].get("stringValue") == name]
    return logs


def test_session_usage_follows_what_its_session_learns_later(client, org, db):
    # Usage first comes without a seat, terminal or app version; a later event that the
    # rollup does not count brings them. The session's session_usage rows, which reports
    # read a whole session from, take them from the session (migration 0013's trigger).
    org_id = org.org.org_id
    for name in SESSIONS:
        send(client, org, "logs", anonymous(body(name, "logs")))
        send(client, org, "metrics", anonymous(body(name, "metrics")))
    assert db.execute("SELECT count(*) FROM session_usage WHERE org_id = %s"
                      " AND (seat_identity IS NOT NULL OR terminal_type IS NOT NULL)",
                      (org_id,)).fetchone()[0] == 0
    rollup = stored_rollup(db, org_id)

    for name in SESSIONS:
        send(client, org, "logs", only_events(body(name, "logs"), "claude_code.user_prompt"))

    assert stored_rollup(db, org_id) == rollup   # the rollup did not move
    totals = stored_session_usage(db, org_id)
    assert totals == recomputed_session_usage(db, org_id)
    seats = {row[0] for row in db.execute(
        "SELECT DISTINCT seat_identity FROM session_usage WHERE org_id = %s", (org_id,))}
    assert None not in seats and len(seats) >= 2
    for groups in (["user"], ["terminal", "app_version"], ["day", "user"]):
        by_group = report(db, org_id, FROM, TO, groups)
        assert by_group == report(db, org_id, FROM, TO, groups, use_rollup=False)
        assert all(None not in row["key"].values() for row in by_group)


def test_migration_0013_copies_each_session_into_its_session_usage_rows(client, org, db):
    org_id = org.org.org_id
    send_everything(client, org, "logs and metrics")
    expected = stored_session_usage(db, org_id)
    # As a release before 0013 left them: nothing copied.
    db.execute("UPDATE session_usage SET seat_identity = NULL, terminal_type = NULL,"
               " app_version = NULL, not_a_session = false WHERE org_id = %s", (org_id,))
    assert stored_session_usage(db, org_id) != expected
    migration = (schema.MIGRATIONS_DIR / "0013_session_usage_dimensions.sql").read_text()

    with db.transaction():
        db.execute(migration[migration.rindex("DO $$"):])

    assert stored_session_usage(db, org_id) == expected == recomputed_session_usage(db, org_id)


@pytest.mark.parametrize("use_rollup", [True, False])
def test_each_seat_is_one_active_user_whichever_way_its_sessions_are_read(client, org, db,
                                                                          use_rollup):
    # bash-tool and failing-bash are two sessions of one seat. Cut windows leave one of
    # them whole (read from session_usage) and the other at the edge (summed here).
    # A copy of write-tool-resource-attrs without a seat is a session of no active user.
    org_id = org.org.org_id
    send_everything(client, org, "logs and metrics")
    seatless = claude_result("write-tool-resource-attrs")["session_id"]
    for signal in ("logs", "metrics"):
        payload = json.dumps(anonymous(body("write-tool-resource-attrs", signal)))
        send(client, org, signal, json.loads(payload.replace(seatless, f"{seatless}-copy")))
    times = sorted({row[0] for row in db.execute(
        "SELECT time FROM log_events WHERE org_id = %s", (org_id,))})
    starts = [FROM, times[1], times[len(times) // 2]]
    for start in starts:
        by_user = report(db, org_id, start, TO, ["user"], use_rollup=use_rollup)
        by_day_and_user = report(db, org_id, start, TO, ["day", "user"],
                                 use_rollup=use_rollup)
        (total,) = report(db, org_id, start, TO, [], use_rollup=use_rollup)
        seats = [row for row in by_user if row["key"]["user"] is not None]
        assert seats and all(row["active_users"] == 1 for row in seats)
        assert all(row["active_users"] == (row["key"]["user"] is not None)
                   for row in by_user + by_day_and_user)
        assert total["active_users"] == len(seats)
    assert [row["sessions"] for row in report(db, org_id, FROM, TO, ["user"])
            if row["key"]["user"] is None] == [1]
    assert max(row["sessions"] for row in report(db, org_id, FROM, TO, ["user"])) >= 2


def test_migration_0013_waits_for_a_running_ingest_instead_of_deadlocking(fresh_database_url,
                                                                         monkeypatch):
    # An upgrade runs `mojule init-db` while the previous release's workers ingest. One of
    # them has upserted its session (locking sessions) and is about to write the rollup
    # (whose trigger writes session_usage) when the migration starts.
    every = schema.available_migrations()
    install_release_before(fresh_database_url, 13, monkeypatch)
    with connect(fresh_database_url) as conn:
        org_id = orgs.create_org(conn, "upgrading").org_id

    outcome = upgrade_while_ingesting(fresh_database_url, org_id,
                                      datetime(2026, 3, 2, 10, 5, tzinfo=UTC))

    assert outcome == {"applied": [m.version for m in every if m.version >= 13]}
    with connect(fresh_database_url) as conn:
        copied = conn.execute("SELECT seat_identity, terminal_type, app_version"
                              " FROM session_usage WHERE org_id = %s", (org_id,)).fetchall()
    assert copied and set(copied) == {("dev@example.com", "vscode", "2.1.328")}
