"""Usage sent without session.id (OTEL_METRICS_INCLUDE_SESSION_ID=false) is counted, once.

Claude Code then leaves session.id off its metrics; Mojule files those points under one
unattributed session per seat and UTC day (migration 0008). The fixture sessions' metrics
go in without their session ids, alone or beside their log events (which keep theirs),
and the figures are checked against Claude Code's own.
"""
from __future__ import annotations

import copy
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest
from click.testing import CliRunner

from mojule import analytics, create_app, rollup, schema
from mojule.cli import cli
from mojule.db import close_pool, connect, org_transaction
from tests.test_analytics import (
    FROM,
    MICRO,
    SESSIONS,
    TO,
    WRITE_TOOL,
    all_sessions,
    body,
    claude_result,
    data_points,
    metric_total,
    seat_identity,
    send,
    shifted,
    totals,
)
from tests.test_dashboard import person, sign_in
from tests.test_dashboard_pages import PAGE_WINDOW

# bash-tool and failing-bash were run by one seat on one day: one unattributed session.
SHARED_SEAT = ("bash-tool", "failing-bash")
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)


def without_session_ids(payload):
    """The payload with session.id taken off every attribute list, resources' included."""
    if isinstance(payload, list):
        return [without_session_ids(item) for item in payload]
    if not isinstance(payload, dict):
        return payload
    return {key: [item for item in value if item.get("key") != "session.id"]
            if key == "attributes" else without_session_ids(value)
            for key, value in payload.items()}


def rounded(value: Decimal) -> Decimal:
    """Rounded to micro-dollars as PostgreSQL rounds (half away from zero)."""
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)


def nanos(moment: datetime) -> str:
    return str(int(moment.timestamp()) * 10**9)


def test_metrics_without_session_ids_are_counted_per_seat_and_day(client, org, db):
    for name in SESSIONS:
        send(client, org, "metrics", without_session_ids(body(name, "metrics")))

    rows = all_sessions(db, org)
    assert all(row["unattributed"] for row in rows)
    by_seat = {row["user"]["seat_identity"]: row for row in rows}
    assert sorted(by_seat) == sorted({seat_identity(name) for name in SESSIONS})
    alice = by_seat[seat_identity(WRITE_TOOL)]
    assert alice["cost_usd"] == claude_result(WRITE_TOOL)["cost_usd"]
    assert alice["tokens"] == claude_result(WRITE_TOOL)["tokens"]
    shared = by_seat[seat_identity(SHARED_SEAT[0])]
    assert shared["cost_usd"] == rounded(sum(metric_total(name, "claude_code.cost.usage")
                                             for name in SHARED_SEAT))
    assert shared["tokens"] == {kind: sum(claude_result(name)["tokens"][kind]
                                          for name in SHARED_SEAT)
                                for kind in alice["tokens"]}
    # No id of the seat's email shows in the session id, nor in the 202 answer's list.
    assert "alice" not in alice["session_id"]

    total = totals(db, org)
    assert total["cost_usd"] == alice["cost_usd"] + shared["cost_usd"]
    assert total["sessions"] == 0                       # no session was ever named
    assert total["active_users"] == 2
    assert total["lines_added"] == metric_total(WRITE_TOOL, "claude_code.lines_of_code.count",
                                                type="added")


def test_events_without_session_ids_are_counted_per_seat_and_day(client, org, db):
    # session.id is optional on every signal: an exporter that leaves it off its log events
    # has them counted too, under the same unattributed session as its metrics.
    for name in SESSIONS:
        send(client, org, "logs", without_session_ids(body(name, "logs")))

    by_seat = {row["user"]["seat_identity"]: row for row in all_sessions(db, org)}
    alice = by_seat[seat_identity(WRITE_TOOL)]
    assert alice["unattributed"]
    assert alice["cost_usd"] == claude_result(WRITE_TOOL)["cost_usd"]
    assert alice["tokens"] == claude_result(WRITE_TOOL)["tokens"]
    total = totals(db, org)
    assert total["cost_usd"] == sum(claude_result(name)["cost_usd"] for name in SESSIONS)
    assert total["sessions"] == 0

    # Metrics without ids as well: cost and tokens still count once, from the events.
    for name in SESSIONS:
        send(client, org, "metrics", without_session_ids(body(name, "metrics")))
    again = totals(db, org)
    assert again["cost_usd"] == total["cost_usd"] and again["tokens"] == total["tokens"]
    assert again["lines_added"] == metric_total(WRITE_TOOL, "claude_code.lines_of_code.count",
                                                type="added")


def test_a_sent_session_id_in_the_reserved_form_counts_as_none(client, org, db):
    export = without_session_ids(body(WRITE_TOOL, "metrics"))
    send(client, org, "metrics", export)
    (synthetic,) = all_sessions(db, org)
    # The same points again, claiming the synthetic session's id as their own.
    for _, point in data_points(export):
        point["attributes"].append({"key": "session.id",
                                    "value": {"stringValue": synthetic["session_id"]}})
        point["timeUnixNano"] = str(int(point["timeUnixNano"]) + 10**9)
    response = client.post("/v1/metrics", json=export, headers=org.headers)

    assert response.status_code == 202 and response.get_json()["sessionIds"] == []
    (session,) = all_sessions(db, org)
    assert session["session_id"] == synthetic["session_id"] and session["unattributed"]


def test_the_answer_lists_no_session_id_for_points_sent_without_one(client, org):
    response = client.post("/v1/metrics", headers=org.headers,
                           json=without_session_ids(body(WRITE_TOOL, "metrics")))
    assert response.status_code == 202
    answer = response.get_json()
    assert answer["sessionIds"] == []
    assert answer["counts"]["metricPoints"] == len(list(data_points(body(WRITE_TOOL,
                                                                          "metrics"))))


def send_mixed(client, db, org, first: str, logs_without_ids: bool) -> dict:
    """Send every session's logs and metrics, ``first`` first, one signal without its
    session ids; check cost, tokens and sessions count once; return the org's totals."""
    strip = {"logs": logs_without_ids, "metrics": not logs_without_ids}
    for signal in (first, "logs" if first == "metrics" else "metrics"):
        for name in SESSIONS:
            export = body(name, signal)
            send(client, org, signal, without_session_ids(export) if strip[signal] else export)

    total = totals(db, org)
    assert total["cost_usd"] == sum(claude_result(name)["cost_usd"] for name in SESSIONS)
    assert total["tokens"] == {kind: sum(claude_result(name)["tokens"][kind]
                                         for name in SESSIONS)
                               for kind in total["tokens"]}
    assert total["sessions"] == len(SESSIONS)
    return total


@pytest.mark.parametrize("first", ["metrics", "logs"])
def test_logs_with_session_ids_beside_metrics_without_count_cost_once(client, org, db, first):
    total = send_mixed(client, db, org, first, logs_without_ids=False)

    # What only metrics carry still counts, from the unattributed sessions.
    assert total["lines_added"] == metric_total(WRITE_TOOL, "claude_code.lines_of_code.count",
                                                type="added")
    assert total["active_time_s"] == float(sum(metric_total(name, "claude_code.active_time.total")
                                               for name in SESSIONS))
    for row in all_sessions(db, org):
        if row["unattributed"]:
            assert row["cost_usd"] == 0 and row["api_requests"] == 0
        else:
            assert row["cost_usd"] == next(claude_result(name)["cost_usd"] for name in SESSIONS
                                           if claude_result(name)["session_id"]
                                           == row["session_id"])


def test_a_member_sees_her_unattributed_session_labelled_and_no_one_elses(app, client, db,
                                                                          org):
    for email in ("alice@example.com", "bob@example.com"):
        person(db, org, email)
    send(client, org, "metrics", without_session_ids(body(WRITE_TOOL, "metrics")))
    (session,) = all_sessions(db, org)

    sign_in(client, org, "alice@example.com")
    assert "(no session id)" in client.get(f"/sessions?{PAGE_WINDOW}").text
    page = client.get(f"/sessions/{session['session_id']}")
    assert page.status_code == 200 and "OTEL_METRICS_INCLUDE_SESSION_ID" in page.text

    bob = app.test_client()
    sign_in(bob, org, "bob@example.com")
    assert session["session_id"] not in bob.get(f"/sessions?{PAGE_WINDOW}").text
    assert bob.get(f"/sessions/{session['session_id']}").status_code == 403


def cost_points(points: list[tuple[datetime, datetime, str]]) -> dict:
    """The write-tool session's cost metric, without session.id, as cumulative points of
    (start, time, dollars)."""
    export = without_session_ids(body(WRITE_TOOL, "metrics"))
    for scope in export["resourceMetrics"][0]["scopeMetrics"]:
        scope["metrics"] = [metric for metric in scope["metrics"]
                            if metric["name"] == "claude_code.cost.usage"][:1]
        for metric in scope["metrics"]:
            template = metric["sum"]["dataPoints"][0]
            metric["sum"]["aggregationTemporality"] = 2
            metric["sum"]["dataPoints"] = [
                {**copy.deepcopy(template), "startTimeUnixNano": nanos(start),
                 "timeUnixNano": nanos(time), "asDouble": float(value)}
                for start, time, value in points]
    return export


@pytest.mark.parametrize("order", ["in order", "late point"])
def test_a_cumulative_run_across_midnight_counts_once(client, org, db, order):
    # One run from 23:20: $0.25 by 23:50, $1.50 by 00:10. Its points fall in two days, so in
    # two unattributed sessions; the first counts in full, the second what it adds.
    start = MIDNIGHT - timedelta(minutes=40)
    before = cost_points([(start, MIDNIGHT - timedelta(minutes=10), "0.25")])
    after = cost_points([(start, MIDNIGHT + timedelta(minutes=10), "1.5")])
    for export in ((before, after) if order == "in order" else (after, before)):
        send(client, org, "metrics", export)

    by_day = {row["first_seen"][:10]: row["cost_usd"] for row in all_sessions(db, org)}
    assert by_day == {"2026-11-19": Decimal("0.250000"), "2026-11-20": Decimal("1.250000")}
    assert totals(db, org)["cost_usd"] == Decimal("1.500000")
    (day,) = analytics.usage(db, org.org.org_id, MIDNIGHT, MIDNIGHT + timedelta(days=1))
    assert day["cost_usd"] == Decimal("1.250000")
    assert FROM < MIDNIGHT < TO


def to_instant(payload: dict, moment: datetime) -> dict:
    """The export moved so that its earliest record is at ``moment``."""
    times = [int(value) for value in _times(payload)]
    return shifted(payload, int(moment.timestamp()) * 10**9 - min(times))


def _times(payload):
    if isinstance(payload, list):
        for item in payload:
            yield from _times(item)
    elif isinstance(payload, dict):
        for key, value in payload.items():
            if key == "timeUnixNano":
                yield value
            else:
                yield from _times(value)


def test_metrics_exported_just_after_midnight_still_defer_to_the_events(client, org, db):
    # The session's events end at 23:59:55; the metrics counting them are stamped when they
    # are exported, 30 s later, in the next UTC day's unattributed session.
    logs = body(WRITE_TOOL, "logs")
    end = max(int(value) for value in _times(logs))
    logs = shifted(logs, int((MIDNIGHT - timedelta(seconds=5)).timestamp()) * 10**9 - end)
    send(client, org, "logs", logs)
    send(client, org, "metrics",
         to_instant(without_session_ids(body(WRITE_TOOL, "metrics")),
                    MIDNIGHT + timedelta(seconds=30)))

    assert totals(db, org)["cost_usd"] == claude_result(WRITE_TOOL)["cost_usd"]


def resumed_into_a_new_day(client, org, db, hold_unattributed: bool = False) -> Decimal:
    """Send a seat's session that was flagged on day 1, then its metrics without session.id
    on day 2 (its unattributed session, alone then), then the session's day-2 events;
    return the cost its events count. ``hold_unattributed``: another transaction holds the
    unattributed session's row while the day-2 events come."""
    day = MIDNIGHT + timedelta(hours=10)
    send(client, org, "logs", to_instant(body(WRITE_TOOL, "logs"), day - timedelta(hours=12)))
    send(client, org, "metrics", to_instant(without_session_ids(body(WRITE_TOOL, "metrics")),
                                             day))
    one_session = claude_result(WRITE_TOOL)["cost_usd"]
    # The unattributed session counts its own cost: no events of the seat are near it yet.
    assert totals(db, org)["cost_usd"] == 2 * one_session
    later_events = to_instant(body(WRITE_TOOL, "logs"), day + timedelta(hours=1))
    if hold_unattributed:
        with db.transaction():
            assert db.execute("SELECT count(*) FROM (SELECT 1 FROM sessions"
                              " WHERE org_id = %s AND unattributed FOR UPDATE) AS held",
                              (org.org.org_id,)).fetchone() == (1,)
            send(client, org, "logs", later_events)
    else:
        send(client, org, "logs", later_events)
    return 2 * one_session


def test_a_session_resumed_into_a_new_day_takes_that_days_unattributed_cost_from_events(
        client, org, db):
    # The session was flagged on day 1; on day 2 its unattributed session appears before
    # the session is seen again, so it counts its own cost until the session's day-2
    # events show that the events count it already.
    events_cost = resumed_into_a_new_day(client, org, db)

    assert totals(db, org)["cost_usd"] == events_cost


def test_purge_settles_an_unattributed_session_that_ingest_left_counting(client, org, db,
                                                                         cli_env):
    # Ingest skips a session another transaction holds rather than wait for it.
    events_cost = resumed_into_a_new_day(client, org, db, hold_unattributed=True)
    assert totals(db, org)["cost_usd"] > events_cost

    result = CliRunner().invoke(cli, ["purge"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert f"{org.org.slug}: 1 sessions now take cost" in result.output
    assert totals(db, org)["cost_usd"] == events_cost
    again = CliRunner().invoke(cli, ["purge"], env=cli_env)
    assert "now take cost" not in again.output


def with_session_id(payload, session_id: str):
    """The payload with every session.id attribute set to ``session_id``."""
    if isinstance(payload, list):
        return [with_session_id(item, session_id) for item in payload]
    if not isinstance(payload, dict):
        return payload
    return {key: [{**item, "value": {"stringValue": session_id}}
                  if item.get("key") == "session.id" else item for item in value]
            if key == "attributes" else with_session_id(value, session_id)
            for key, value in payload.items()}


@pytest.mark.parametrize("start_type", ["fresh", "agents_view"])
def test_an_empty_session_id_counts_as_none(client, org, db, start_type):
    # "" names no session; kept, it would be one session shared by every client sending it.
    metrics = with_session_id(body(WRITE_TOOL, "metrics"), "")
    for _, point in data_points(metrics):
        for attr in point["attributes"]:
            if attr["key"] == "start_type":
                attr["value"] = {"stringValue": start_type}
    send(client, org, "metrics", metrics)
    send(client, org, "logs", with_session_id(body(WRITE_TOOL, "logs"), ""))

    (session,) = all_sessions(db, org)
    assert session["unattributed"] and not session["agents_view"]
    assert session["cost_usd"] == claude_result(WRITE_TOOL)["cost_usd"]
    assert session["tokens"] == claude_result(WRITE_TOOL)["tokens"]


@pytest.mark.parametrize("first", ["metrics", "logs"])
def test_logs_without_session_ids_beside_metrics_with_count_cost_once(client, org, db, first):
    # The mirror of the case above: an exporter (or a Collector's processor) that strips
    # session.id from log events but not from metrics sends each cost twice, as events in
    # the seat's unattributed session and as metrics in the named ones.
    total = send_mixed(client, db, org, first, logs_without_ids=True)

    assert total["lines_added"] == metric_total(WRITE_TOOL, "claude_code.lines_of_code.count",
                                                type="added")
    for row in all_sessions(db, org):
        if not row["unattributed"]:
            assert row["cost_usd"] == 0 and row["api_requests"] == 0


def on_install(payload, user_id: str | None, email: str = "dev@example.com"):
    """The payload as sent by one machine (``user_id``; None: user.id stripped on the way)
    of the person signed in as ``email``: one seat, whichever machine."""
    if isinstance(payload, list):
        return [on_install(item, user_id, email) for item in payload
                if user_id is not None or not (isinstance(item, dict)
                                               and item.get("key") == "user.id")]
    if not isinstance(payload, dict):
        return payload
    if payload.get("key") == "user.id":
        return {"key": "user.id", "value": {"stringValue": user_id}}
    sent = {key: on_install(value, user_id, email) for key, value in payload.items()}
    if "resource" in sent:
        sent["resource"] = {**sent["resource"], "attributes": [
            *sent["resource"].get("attributes", []),
            {"key": "user.email", "value": {"stringValue": email}}]}
    return sent


def send_from_two_machines(client, org, db, stripped: str) -> None:
    """The seat's laptop sends one session, its desktop another; one of them without
    session ids on ``stripped``'s signal (logs: the laptop's, metrics: the desktop's)."""
    first, second = SHARED_SEAT
    if stripped == "metrics":
        send(client, org, "logs", on_install(body(first, "logs"), "laptop"))
        send(client, org, "metrics", on_install(without_session_ids(body(second, "metrics")),
                                                "desktop"))
    else:
        send(client, org, "logs", on_install(without_session_ids(body(first, "logs")),
                                             "laptop"))
        send(client, org, "metrics", on_install(body(second, "metrics"), "desktop"))
    assert {row["user"]["seat_identity"] for row in all_sessions(db, org)} == {
        "dev@example.com"}


def both_machines_counted(db, org) -> bool:
    first, second = (claude_result(name) for name in SHARED_SEAT)
    total = totals(db, org)
    return (total["cost_usd"] == first["cost_usd"] + second["cost_usd"]
            and total["tokens"]["input"] == first["tokens"]["input"]
            + second["tokens"]["input"])


@pytest.mark.parametrize("stripped", ["metrics", "logs"])
def test_the_seats_other_machine_sending_one_signal_without_session_ids_counts_in_full(
        client, org, db, stripped):
    # Claude Code's OTEL_METRICS_INCLUDE_SESSION_ID=false takes session.id off its events
    # as well as its metrics: one machine of the seat sending cost with session ids and
    # the other sending it without repeat nothing of each other, whichever signal it is.
    send_from_two_machines(client, org, db, stripped)

    assert both_machines_counted(db, org)


@pytest.mark.parametrize("desktop_first", [True, False])
def test_a_stripping_pipeline_on_one_machine_and_the_switch_on_another_count_each_once(
        client, org, db, desktop_first):
    # The laptop's pipeline strips session.id from its metrics (its events keep theirs);
    # the desktop sends metrics without session ids. Each machine's unattributed session
    # is its own, whichever comes first.
    first, second = SHARED_SEAT
    laptop = [("logs", on_install(body(first, "logs"), "laptop")),
              ("metrics", on_install(without_session_ids(body(first, "metrics")), "laptop"))]
    desktop = [("metrics", on_install(without_session_ids(body(second, "metrics")),
                                      "desktop"))]
    for signal, payload in (desktop + laptop if desktop_first else laptop + desktop):
        send(client, org, signal, payload)

    assert both_machines_counted(db, org)
    assert len([row for row in all_sessions(db, org) if row["unattributed"]]) == 2


def test_a_pipeline_stripping_user_id_with_session_id_still_counts_cost_once(client, org,
                                                                               db):
    # Without user.id the unattributed session matches any install of its seat.
    send(client, org, "logs", on_install(body(WRITE_TOOL, "logs"), "laptop"))
    send(client, org, "metrics", on_install(without_session_ids(body(WRITE_TOOL, "metrics")),
                                            None))

    assert totals(db, org)["cost_usd"] == claude_result(WRITE_TOOL)["cost_usd"]
    assert totals(db, org)["tokens"] == claude_result(WRITE_TOOL)["tokens"]


@pytest.mark.parametrize("stripped", ["metrics", "logs"])
def test_migration_0020_counts_again_what_the_seat_wide_rule_dropped(client, org, other_org,
                                                                     db, stripped):
    # In the other org, one machine sends a session's events with its id and its metrics
    # without: the unattributed session's flag is right and stays.
    send(client, other_org, "logs", on_install(body(WRITE_TOOL, "logs"), "laptop"))
    send(client, other_org, "metrics", on_install(without_session_ids(
        body(WRITE_TOOL, "metrics")), "laptop"))
    kept = totals(db, other_org)
    assert kept["cost_usd"] == claude_result(WRITE_TOOL)["cost_usd"]
    send_from_two_machines(client, org, db, stripped)
    # As a release before 0020 left it: the session without events of its own flagged.
    flagged = db.execute("UPDATE sessions SET has_api_requests = true WHERE org_id = %s"
                         " AND NOT has_api_requests RETURNING session_id, first_seen",
                         (org.org.org_id,)).fetchall()
    with org_transaction(db, org.org.org_id):
        rollup.refresh(db, org.org.org_id, [session_id for session_id, _ in flagged])
    assert len(flagged) == 1 and not both_machines_counted(db, org)
    migration = (schema.MIGRATIONS_DIR / "0020_unattributed_flags_per_install.sql").read_text()

    with db.transaction():
        db.execute(migration[migration.index("DO $$"):])
    recounted = rollup.recount_pending(db, org.org.org_id)

    assert recounted == 1
    assert both_machines_counted(db, org)
    assert rollup.recount_pending(db, other_org.org.org_id) == 0
    assert totals(db, other_org) == kept


def test_purge_settles_named_sessions_whose_cost_the_seat_events_count(client, org, db,
                                                                      cli_env):
    # As ingest leaves them when another transaction held the named sessions: counting
    # their metrics' cost beside the unattributed session's events.
    for signal in ("logs", "metrics"):
        for name in SESSIONS:
            payload = body(name, signal)
            send(client, org, signal, without_session_ids(payload) if signal == "logs"
                 else payload)
    named = [row["session_id"] for row in all_sessions(db, org) if not row["unattributed"]]
    with db.transaction():
        db.execute("UPDATE sessions SET has_api_requests = false"
                   " WHERE org_id = %s AND NOT unattributed", (org.org.org_id,))
        rollup.refresh(db, org.org.org_id, named)
    expected = sum(claude_result(name)["cost_usd"] for name in SESSIONS)
    assert totals(db, org)["cost_usd"] == 2 * expected

    result = CliRunner().invoke(cli, ["purge"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert f"{org.org.slug}: {len(named)} sessions now take cost" in result.output
    assert totals(db, org)["cost_usd"] == expected


def test_the_overview_shows_usage_sent_without_session_ids(client, db, org):
    # No session was ever named, yet cost was: the page shows it, not "nothing received".
    person(db, org, "admin@example.com", "admin")
    send(client, org, "metrics", without_session_ids(body(WRITE_TOOL, "metrics")))
    sign_in(client, org, "admin@example.com")

    page = client.get(f"/?{PAGE_WINDOW}").text

    assert "No Claude Code usage" not in page
    cost = claude_result(WRITE_TOOL)["cost_usd"]
    assert f'data-metric="cost_usd" data-value="{cost}"' in page


def test_metrics_and_events_committing_at_once_still_count_cost_once(config, db, org,
                                                                    database_url):
    # The session's last metric export and its events without session.id come together,
    # as when a short headless run exits. The metrics' ingest looks for the seat's events
    # before the events' ingest has committed, and the events' ingest finds the session
    # held by the metrics' ingest and leaves it: each side checks again once committed.
    patient = psycopg.conninfo.make_conninfo(config["DATABASE_URL"],
                                             options="-c lock_timeout=30000")
    app = create_app({**config, "DATABASE_URL": patient})
    two_days = 2 * 86400 * 10**9
    try:
        # The seat's events came without session.id before (as its exporter sends them):
        # the org has unattributed sessions, which the ingests look out for.
        send(app.test_client(), org, "logs",
             shifted(without_session_ids(body(WRITE_TOOL, "logs")), -two_days))
        send(app.test_client(), org, "metrics", body(WRITE_TOOL, "metrics"))
        session_id = claude_result(WRITE_TOOL)["session_id"]
        later_metrics = shifted(body(WRITE_TOOL, "metrics"), 10**9)
        answers = []
        with connect(database_url) as blocker, blocker.transaction():
            # Holds the session's rollup rows: the metrics' ingest stops just after its
            # check, before it commits.
            blocker.execute("SELECT 1 FROM usage_rollup WHERE org_id = %s AND session_id = %s"
                            " FOR UPDATE", (org.org.org_id, session_id))
            metrics_ingest = threading.Thread(target=lambda: answers.append(
                app.test_client().post("/v1/metrics", json=later_metrics,
                                       headers=org.headers).status_code))
            metrics_ingest.start()
            wait_for_lock_wait(db, "rollup_clear")
            send(app.test_client(), org, "logs", without_session_ids(body(WRITE_TOOL, "logs")))
        metrics_ingest.join(30)
    finally:
        close_pool(app)

    assert answers == [202]
    # The session's cost, once, and that of the events two days before.
    assert totals(db, org)["cost_usd"] == 2 * claude_result(WRITE_TOOL)["cost_usd"]


def test_another_workers_first_unattributed_session_is_seen_at_once(config, db, org):
    # Worker B has served the org while it had no unattributed session. Worker A then
    # stores the org's first: a seat's events without session.id. The same seat's metrics
    # with session ids, served next by B, must take their cost from those events.
    worker_a, worker_b = create_app(config), create_app(config)
    try:
        send(worker_b.test_client(), org, "metrics", body(SHARED_SEAT[0], "metrics"))
        send(worker_a.test_client(), org, "logs", without_session_ids(body(WRITE_TOOL, "logs")))
        send(worker_b.test_client(), org, "metrics", body(WRITE_TOOL, "metrics"))
    finally:
        close_pool(worker_a)
        close_pool(worker_b)

    assert totals(db, org)["cost_usd"] == (claude_result(SHARED_SEAT[0])["cost_usd"]
                                           + claude_result(WRITE_TOOL)["cost_usd"])


def test_a_resumed_session_and_its_new_days_metrics_committing_at_once_count_cost_once(
        config, db, org, database_url):
    # The session was flagged on day 1, its metrics without session.id filed under the
    # seat's unattributed session of day 1. Its day-2 events are committing when the
    # seat's first day-2 metrics come: neither ingest may check the seat's flags before
    # the other's rows are visible (the seat lock puts one after the other).
    day = MIDNIGHT + timedelta(hours=10)
    app = create_app(config)
    send(app.test_client(), org, "logs",
         to_instant(body(WRITE_TOOL, "logs"), day - timedelta(hours=12)))
    send(app.test_client(), org, "metrics",
         to_instant(without_session_ids(body(WRITE_TOOL, "metrics")), day - timedelta(hours=12)))
    # Test-only: an ingest that writes a named session waits at COMMIT for the blocker.
    db.execute("""
        CREATE FUNCTION test_wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_lock(4242);
            PERFORM pg_advisory_unlock(4242);
            RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER test_wait_at_commit AFTER INSERT OR UPDATE ON sessions
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NOT NEW.unattributed)
            EXECUTE FUNCTION test_wait_at_commit()""")
    answers = []

    def post(signal: str, payload: dict) -> threading.Thread:
        thread = threading.Thread(target=lambda: answers.append(app.test_client().post(
            f"/v1/{signal}", json=payload, headers=org.headers).status_code))
        thread.start()
        return thread

    try:
        with connect(database_url) as blocker:
            blocker.execute("SELECT pg_advisory_lock(4242)")
            events = post("logs", to_instant(body(WRITE_TOOL, "logs"), day + timedelta(hours=1)))
            wait_for_lock_wait(db, None, wait_event="advisory")
            metrics = post("metrics", to_instant(without_session_ids(body(WRITE_TOOL, "metrics")),
                                                 day))
            # Until the metrics' ingest waits for the seat (or, were it not held, is done).
            deadline = time.monotonic() + 20
            while metrics.is_alive() and not waiting(db, "sessions_lock_unattributed_seats"):
                assert time.monotonic() < deadline, "the metrics' ingest neither waited nor ended"
                time.sleep(0.02)
            blocker.execute("SELECT pg_advisory_unlock(4242)")
            events.join(30)
            metrics.join(30)
    finally:
        db.execute("DROP TRIGGER test_wait_at_commit ON sessions;"
                   " DROP FUNCTION test_wait_at_commit()")
        close_pool(app)

    assert answers == [202, 202]
    assert totals(db, org)["cost_usd"] == 2 * claude_result(WRITE_TOOL)["cost_usd"]


def waiting(db, statement: str | None, wait_event: str | None = None) -> bool:
    """Whether a backend running sql/<statement>.sql (any statement: None) waits for a lock
    (of the kind ``wait_event``, or any)."""
    pattern = None if statement is None else f"-- {statement}.sql%"
    return db.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                      " AND (%(event)s::text IS NULL OR wait_event = %(event)s)"
                      " AND (%(pattern)s::text IS NULL OR query LIKE %(pattern)s)",
                      {"event": wait_event, "pattern": pattern}).fetchone()[0] > 0


def wait_for_lock_wait(db, statement: str | None, timeout: float = 20.0,
                       wait_event: str | None = None) -> None:
    """Wait until a backend running sql/<statement>.sql (any statement: None) waits for a
    lock (of the kind ``wait_event``, or any)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if waiting(db, statement, wait_event):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {statement or 'statement'} waited for a lock")


def test_two_clients_of_one_seat_with_opposite_exporters_count_cost_once(client, db, org):
    # Client A sends events with session ids and metrics without: the seat's unattributed
    # session takes cost from events (none of its own). Client B then sends metrics with
    # ids and events without, into that same unattributed session: B's cost counts once.
    first, second = SHARED_SEAT
    send(client, org, "logs", body(first, "logs"))
    send(client, org, "metrics", without_session_ids(body(first, "metrics")))
    send(client, org, "metrics", body(second, "metrics"))
    send(client, org, "logs", without_session_ids(body(second, "logs")))

    assert totals(db, org)["cost_usd"] == (claude_result(first)["cost_usd"]
                                           + claude_result(second)["cost_usd"])


def as_enduser(payload, spelling: str):
    """The payload with user.email taken off, and its seat named by OTEL_RESOURCE_ATTRIBUTES
    ``enduser.id=<spelling>`` instead, as an API-key sign-in sends it."""
    if isinstance(payload, list):
        return [as_enduser(item, spelling) for item in payload
                if not (isinstance(item, dict) and item.get("key") == "user.email")]
    if not isinstance(payload, dict):
        return payload
    sent = {key: as_enduser(value, spelling) for key, value in payload.items()}
    if "resource" in sent:
        sent["resource"] = {**sent["resource"], "attributes": [
            *sent["resource"].get("attributes", []),
            {"key": "enduser.id", "value": {"stringValue": spelling}}]}
    return sent


def test_init_db_settles_usage_an_upgrade_found_to_be_one_seats(client, org, db, cli_env,
                                                                 database_url):
    # Before 0025 and 0026, Carol's events (enduser.id as she typed it) and her metrics
    # sent without session ids (as her directory spells it) were two seats, each counting
    # the session's cost.
    send(client, org, "logs", as_enduser(body(WRITE_TOOL, "logs"), "carol@example.com"))
    send(client, org, "metrics", as_enduser(without_session_ids(body(WRITE_TOOL, "metrics")),
                                            "Carol@Example.com"))
    one_session = claude_result(WRITE_TOOL)["cost_usd"]
    assert totals(db, org)["cost_usd"] == one_session
    with org_transaction(db, org.org.org_id):
        (unattributed,) = db.execute(
            "UPDATE sessions SET seat_identity = 'Carol@Example.com', has_api_requests = false"
            " WHERE org_id = %s AND unattributed RETURNING session_id",
            (org.org.org_id,)).fetchone()
        db.execute("UPDATE metric_points SET seat_identity = 'Carol@Example.com'"
                   " WHERE org_id = %s AND session_id = %s", (org.org.org_id, unattributed))
        rollup.refresh(db, org.org.org_id, [unattributed])
    assert totals(db, org)["cost_usd"] == 2 * one_session
    with db.transaction():
        for name in ("0025_enduser_emails_in_lower_case.sql",
                     "0026_enduser_email_seats_in_lower_case.sql"):
            migration = (schema.MIGRATIONS_DIR / name).read_text()
            db.execute(migration[migration.index("DO $$"):])

    result = CliRunner().invoke(cli, ["init-db"],
                                env={**cli_env, "MOJULE_OWNER_DATABASE_URL": database_url})

    assert result.exit_code == 0, result.output
    assert f"{org.org.slug}: 1 sessions now take cost" in result.stderr
    assert totals(db, org)["cost_usd"] == one_session
