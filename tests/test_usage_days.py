"""Past days summed ahead (usage_days, migration 0021): reports read them, and equal
reports of the raw rows, whenever and however the days were summed or changed since.

The real fixture sessions go through the HTTP ingest path, moved to days that have ended:
sessions of one day, a session across midnight, a session of today. "Tampering" with the
sums below proves which days a report read from usage_days: only those move.
"""
from __future__ import annotations

import json
import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock

import psycopg
import pytest
from click.testing import CliRunner

from mojule import accounting, orgs, retention, schema, usage_days
from mojule.accounting import Scope
from mojule.cli import cli
from mojule.db import connect, org_transaction, query
from tests.conftest import FIXTURES, session_id_of
from tests.test_analytics import FROM, SESSIONS, TO, body, send, shifted
from tests.test_rollup import GROUPINGS, report
from tests.upgrades import (
    install_release_before,
    start_upgrade,
    upgrade_while_ingesting,
)

# Groupings by resource attributes; those by model too, or by an attribute of the process,
# cannot read usage_days_attributes.
ATTRIBUTE_GROUPINGS = (["attr:department", "day"], ["attr:department", "user"],
                       ["attr:department", "attr:os.type"], ["attr:department", "model"],
                       ["attr:service.version"], ["week", "attr:service.version"])
# Today in UTC, and a day ten days before, set anew as each test starts (below): read once
# when the module loaded, they went stale when a run crossed midnight.
TODAY = datetime.now(UTC).date()
PAST = TODAY - timedelta(days=10)
TAMPER = 1000


@pytest.fixture(autouse=True)
def today():
    global TODAY, PAST
    TODAY = datetime.now(UTC).date()
    PAST = TODAY - timedelta(days=10)


def first_time_ns(name: str) -> int:
    logs = json.loads((FIXTURES / "claude-code-2.1.328" / name / "logs.json").read_text())
    return min(int(record["timeUnixNano"]) for resource in logs["resourceLogs"]
               for scope in resource["scopeLogs"] for record in scope["logRecords"])


def at(day: date, hour: int, minute: int = 0) -> int:
    return int(datetime.combine(day, time(hour, minute), UTC).timestamp()) * 10**9


def send_at(client, org, name: str, moment_ns: int, signals=("logs", "metrics")) -> None:
    """Send the fixture session's signals moved so that its first event is at moment_ns."""
    for signal in signals:
        send(client, org, signal, shifted(body(name, signal), moment_ns - first_time_ns(name)))


def send_days(client, org) -> None:
    """Two sessions of PAST, one from 23:58 on the next day into the day after (one
    session id, its events sent twice, 25 minutes apart), and one of today."""
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    send_at(client, org, "write-tool-resource-attrs", at(PAST, 17, 40))
    send_at(client, org, "failing-bash", at(PAST + timedelta(days=1), 23, 58))
    send_at(client, org, "failing-bash", at(PAST + timedelta(days=2), 0, 23), ("logs",))
    send_at(client, org, "failing-bash", at(TODAY, 0, 1), ("metrics",))


def sum_days(conn, org_id: int) -> int:
    """Sum the org's days as `mojule purge` does."""
    return usage_days.sum_days(conn, org_id, usage_days.settle(conn))


def summed_rows(db, org_id: int) -> list[tuple]:
    """(day, sessions counted) of the totals summed, and whether model rows were too."""
    return db.execute("SELECT day, sum(sessions) FILTER (WHERE NOT per_model),"
                      " bool_or(per_model) FROM usage_days WHERE org_id = %s"
                      " GROUP BY day ORDER BY day", (org_id,)).fetchall()


def tamper(db, org_id: int, lines: int) -> None:
    """Add ``lines`` to the lines added of one totals row summed ahead."""
    db.execute("UPDATE usage_days SET lines_added = coalesce(lines_added, 0) + %(lines)s"
               " WHERE ctid = (SELECT ctid FROM usage_days WHERE org_id = %(org)s"
               " AND NOT per_model LIMIT 1)", {"lines": lines, "org": org_id})


def lines_added(db, org_id: int, start=FROM, end=TO, **kwargs) -> int:
    (total,) = report(db, org_id, start, end, [], **kwargs)
    return total["lines_added"]


def unsummed_lines_added(db, org_id: int) -> int:
    """The lines added read from session_usage as if no day were summed."""
    with mock.patch.object(accounting, "summed_days", return_value=(None, None)):
        return lines_added(db, org_id)


def notes(db, org_id: int) -> list[date]:
    return [day for (day,) in db.execute(
        "SELECT DISTINCT day FROM usage_day_changes WHERE org_id = %s ORDER BY day",
        (org_id,))]


def add_lines(conn, org_id: int, session_id: str, lines: int) -> None:
    """A write to a session's usage, as a recount or a late export would make one."""
    with org_transaction(conn, org_id):
        conn.execute("UPDATE session_usage SET lines_added = coalesce(lines_added, 0) + %s"
                     " WHERE org_id = %s AND session_id = %s AND NOT per_model",
                     (lines, org_id, session_id))


def test_reports_read_the_summed_days_and_equal_reports_of_the_raw_rows(client, org, db):
    org_id = org.org.org_id
    send_days(client, org)

    # Every day up to yesterday: the days of PAST and the two after it, then none.
    assert sum_days(db, org_id) == (TODAY - PAST).days
    assert sum_days(db, org_id) == 0
    # Only PAST's sessions began and ended in one day; each counts once in its group.
    assert summed_rows(db, org_id) == [(PAST, 2, True)]

    past, later = (datetime.combine(day, time(), UTC) for day in (PAST, PAST + timedelta(1)))
    windows = [(FROM, TO), (past, later), (past + timedelta(hours=12), TO),
               (past - timedelta(minutes=1), later + timedelta(days=2))]
    for start, end in windows:
        for groups in GROUPINGS + (["week", "model"], ["user", "model"]) + ATTRIBUTE_GROUPINGS:
            assert report(db, org_id, start, end, groups) == \
                report(db, org_id, start, end, groups, use_rollup=False), (start, end, groups)

    # The reports that may read the summed day read it, and only those.
    raw = lines_added(db, org_id)
    tamper(db, org_id, TAMPER)
    assert lines_added(db, org_id) == raw + TAMPER
    assert lines_added(db, org_id, past, later) == lines_added(db, org_id, past, later,
                                                               use_rollup=False) + TAMPER
    (by_day,) = [row for row in report(db, org_id, FROM, TO, ["day"])
                 if row["key"]["day"] == PAST.isoformat()]
    assert by_day["lines_added"] >= TAMPER
    # A window that ends before the day ends, a zone whose days are not UTC's, a grouping
    # by what the sums lack: session_usage alone.
    assert lines_added(db, org_id, past, later - timedelta(minutes=15)) == \
        lines_added(db, org_id, past, later - timedelta(minutes=15), use_rollup=False)
    for groups, tz in ((["day"], "Europe/Paris"), (["terminal"], "UTC"),
                       (["attr:department"], "UTC")):
        rows = report(db, org_id, FROM, TO, groups, tz)
        assert sum(row["lines_added"] for row in rows) == raw


def tamper_attributes(db, org_id: int, lines: int) -> None:
    """Add ``lines`` to the lines added of one row summed ahead per resource attributes."""
    db.execute("UPDATE usage_days_attributes"
               " SET lines_added = coalesce(lines_added, 0) + %(lines)s"
               " WHERE ctid = (SELECT ctid FROM usage_days_attributes WHERE org_id = %(org)s"
               " LIMIT 1)", {"lines": lines, "org": org_id})


def test_reports_by_resource_attributes_read_the_days_summed_per_attributes(client, org, db):
    org_id = org.org.org_id
    send_days(client, org)
    sum_days(db, org_id)
    # The attributes of the sessions, but those of their process.
    kept = db.execute("SELECT DISTINCT resource_attributes FROM usage_days_attributes"
                      " WHERE org_id = %s", (org_id,)).fetchall()
    assert all("service.version" not in attributes and "service.name" in attributes
               for (attributes,) in kept), kept
    assert [attributes["department"] for (attributes,) in kept
            if "department" in attributes] == ["platform"], kept

    raw = {tuple(groups): report(db, org_id, FROM, TO, groups, use_rollup=False)
           for groups in ATTRIBUTE_GROUPINGS}
    tamper_attributes(db, org_id, TAMPER)
    for groups in ATTRIBUTE_GROUPINGS:
        moved = sum(row["lines_added"] for row in report(db, org_id, FROM, TO, groups)) - \
            sum(row["lines_added"] for row in raw[tuple(groups)])
        # Read from the sums unless grouped by model too, or by an attribute of the process.
        reads_sums = "model" not in groups and "attr:service.version" not in groups
        assert moved == (TAMPER if reads_sums else 0), groups
    # Reports by anything else read usage_days, which the tampering left alone.
    assert lines_added(db, org_id) == unsummed_lines_added(db, org_id)


def test_new_resource_attributes_of_a_summed_session_count_at_once_and_are_summed(client,
                                                                                  org, db):
    org_id = org.org.org_id
    send_at(client, org, "write-tool-resource-attrs", at(PAST, 17, 40))
    sum_days(db, org_id)
    assert notes(db, org_id) == []
    (before,) = report(db, org_id, FROM, TO, ["attr:department"])
    assert before["key"] == {"attr:department": "platform"}

    # The session resumed with new attributes: a record of the same day, already stored,
    # sent again with another department, as `claude --resume` would after a move.
    logs = shifted(body("write-tool-resource-attrs", "logs"),
                   at(PAST, 17, 40) - first_time_ns("write-tool-resource-attrs"))
    for resource in logs["resourceLogs"]:
        for attribute in resource["resource"]["attributes"]:
            if attribute["key"] == "department":
                attribute["value"] = {"stringValue": "data"}
    send(client, org, "logs", logs)

    assert notes(db, org_id) == [PAST]
    expected = report(db, org_id, FROM, TO, ["attr:department"], use_rollup=False)
    assert [row["key"] for row in expected] == [{"attr:department": "data"}]
    assert report(db, org_id, FROM, TO, ["attr:department"]) == expected
    assert sum_days(db, org_id) == 1
    assert notes(db, org_id) == []
    assert report(db, org_id, FROM, TO, ["attr:department"]) == expected


def test_a_change_to_a_summed_day_counts_at_once_and_the_day_is_summed_again(client, org,
                                                                                db):
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    sum_days(db, org_id)
    raw = lines_added(db, org_id)

    # Another session of that day arrives late: the day is noted and read from the raw rows.
    send_at(client, org, "write-tool-resource-attrs", at(PAST, 17, 40))
    assert notes(db, org_id) == [PAST]
    tamper(db, org_id, TAMPER)
    later = lines_added(db, org_id, use_rollup=False)
    assert later > raw
    assert lines_added(db, org_id) == later
    for groups in GROUPINGS:
        assert report(db, org_id, FROM, TO, groups) == \
            report(db, org_id, FROM, TO, groups, use_rollup=False), groups

    # Summed again (the tampering undone with it), and read from the sums again.
    assert sum_days(db, org_id) == 1
    assert notes(db, org_id) == []
    assert summed_rows(db, org_id) == [(PAST, 2, True)]
    assert lines_added(db, org_id) == later
    tamper(db, org_id, TAMPER)
    assert lines_added(db, org_id) == later + TAMPER


def open_write(url: str, org_id: int, lines: int) -> psycopg.Connection:
    """A connection with a transaction open that added ``lines`` to the org's sessions."""
    writer = connect(url)
    writer.execute("BEGIN")
    writer.execute("SELECT set_config('mojule.org_id', %s, true)", (str(org_id),))
    writer.execute("UPDATE session_usage SET lines_added = coalesce(lines_added, 0) + %s"
                   " WHERE org_id = %s AND NOT per_model", (lines, org_id))
    return writer


def test_summing_waits_for_a_transaction_that_began_before_it(client, org, db, database_url,
                                                              monkeypatch):
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    monkeypatch.setattr(usage_days, "SETTLE_S", 0.3)
    with open_write(database_url, org_id, 7) as writer:
        # It could have written to a day before today without noting it: nothing is
        # summed while it runs, and the summing says why.
        with pytest.raises(usage_days.NotSettled, match="still running after 0.3 s"):
            usage_days.settle(db)
        writer.execute("COMMIT")

    assert sum_days(db, org_id) > 0
    assert lines_added(db, org_id) == unsummed_lines_added(db, org_id)
    tamper(db, org_id, TAMPER)
    assert lines_added(db, org_id) == unsummed_lines_added(db, org_id) + TAMPER


def test_summing_goes_on_once_the_transactions_it_waits_for_end(client, org, db,
                                                                 database_url):
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    writer = open_write(database_url, org.org.org_id, 7)
    threading.Timer(0.5, lambda: (writer.execute("COMMIT"), writer.close())).start()
    started = clock.monotonic()
    usage_days.settle(db)
    assert writer.closed and clock.monotonic() - started >= 0.5


def test_a_transaction_of_another_database_does_not_hold_the_summing(org, db, server_url,
                                                                      monkeypatch):
    monkeypatch.setattr(usage_days, "SETTLE_S", 0.3)
    with connect(server_url) as other:
        other.execute("BEGIN")
        other.execute("SELECT pg_current_xact_id()")
        assert other.execute("SELECT current_database()").fetchone()[0] != \
            db.execute("SELECT current_database()").fetchone()[0]
        usage_days.settle(db)   # does not raise NotSettled
        other.execute("ROLLBACK")


def test_a_purge_that_cannot_sum_says_so_and_goes_on(client, org, db, database_url,
                                                     monkeypatch):
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    monkeypatch.setattr(usage_days, "SETTLE_S", 0.2)
    with open_write(database_url, org_id, 7) as writer:
        results = retention.purge_expired_content(db, datetime.now(UTC))
        writer.execute("ROLLBACK")
    (result,) = [result for result in results if result.org_id == org_id]
    assert "usage days left for the next purge: transactions begun before it are still " \
           "running" in result.warning
    assert summed_rows(db, org_id) == []
    retention.purge_expired_content(db, datetime.now(UTC))
    assert summed_rows(db, org_id) == [(PAST, 1, True)]


def test_ingest_notes_a_change_without_the_app_roles_own_grant(client, org, db):
    # Between an upgrade's migration and the grant that follows it, the previous release
    # still ingests: the note is written with the function owner's rights.
    db.execute(f"REVOKE INSERT ON usage_day_changes FROM {schema.APP_ROLE}")
    try:
        send_at(client, org, "bash-tool", at(PAST, 9, 14))
    finally:
        db.execute(f"GRANT INSERT ON usage_day_changes TO {schema.APP_ROLE}")
    assert notes(db, org.org.org_id) == [PAST]


def test_a_change_the_summing_did_not_see_keeps_its_day_noted(client, org, db, database_url):
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    sum_days(db, org_id)
    add_lines(db, org_id, session_id_of("bash-tool"), 1)   # noted: summed again below

    def commit_a_change_meanwhile(built_through, first_day):
        # After the summing took its snapshot, a change to the day commits.
        with connect(database_url) as writer:
            add_lines(writer, org_id, session_id_of("bash-tool"), 7)
        return [PAST]

    assert usage_days._sum(db, org_id, commit_a_change_meanwhile) == [PAST]

    # The summing forgot the change it saw, not the one it did not.
    assert notes(db, org_id) == [PAST]
    assert lines_added(db, org_id) == unsummed_lines_added(db, org_id)
    tamper(db, org_id, TAMPER)
    assert lines_added(db, org_id) == unsummed_lines_added(db, org_id)
    assert sum_days(db, org_id) == 1
    assert notes(db, org_id) == []
    assert lines_added(db, org_id) == unsummed_lines_added(db, org_id)


def test_only_past_days_are_noted_and_todays_ingest_notes_nothing(client, org, db):
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(TODAY, 0, 1))
    send_at(client, org, "failing-bash", at(PAST, 3, 0))
    assert notes(db, org_id) == [PAST]
    send_at(client, org, "bash-tool", at(TODAY, 0, 5), ("logs",))
    assert notes(db, org_id) == [PAST]


def test_a_session_across_midnight_is_not_summed_and_counts_once(client, org, db):
    org_id = org.org.org_id
    send_at(client, org, "failing-bash", at(PAST, 23, 58))
    send_at(client, org, "failing-bash", at(PAST + timedelta(days=1), 0, 23), ("logs",))
    sum_days(db, org_id)
    assert summed_rows(db, org_id) == []
    (total,) = report(db, org_id, FROM, TO, [])
    assert total["sessions"] == 1
    assert report(db, org_id, FROM, TO, ["day"]) == \
        report(db, org_id, FROM, TO, ["day"], use_rollup=False)


def test_a_seat_day_summed_and_read_whole_too_is_one_group(client, org, db):
    # Grouped by day and user, a seat's day summed ahead is its group's row as it is
    # (analytics_usage.sql, lone_days), unless something else adds to the group: here the
    # same seat's session from 23:58 across midnight, read from session_usage.
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    send_at(client, org, "write-tool-resource-attrs", at(PAST, 17, 40))
    send_at(client, org, "failing-bash", at(PAST, 23, 58))
    send_at(client, org, "failing-bash", at(PAST + timedelta(days=1), 0, 23), ("logs",))
    sum_days(db, org_id)
    assert summed_rows(db, org_id) == [(PAST, 2, True)]

    rows = report(db, org_id, FROM, TO, ["day", "user"])
    assert rows == report(db, org_id, FROM, TO, ["day", "user"], use_rollup=False)
    assert sorted(row["sessions"] for row in rows if row["key"]["day"] == PAST.isoformat()) \
        == [1, 2]
    # Both groups read their seat's summed day (one totals row each).
    db.execute("UPDATE usage_days SET lines_added = coalesce(lines_added, 0) + %s"
               " WHERE org_id = %s AND NOT per_model", (TAMPER, org_id))
    moved = report(db, org_id, FROM, TO, ["day", "user"])
    assert [row["key"] for row in moved] == [row["key"] for row in rows]
    assert [after["lines_added"] - before["lines_added"] for before, after in zip(rows, moved)
            if before["key"]["day"] == PAST.isoformat()] == [TAMPER, TAMPER]


def test_summing_an_org_without_usage_does_nothing(org, db):
    assert sum_days(db, org.org.org_id) == 0
    assert db.execute("SELECT count(*) FROM usage_days_built WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0


def test_a_second_process_leaves_the_org_to_the_one_summing_it(client, org, db, database_url):
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    with connect(database_url) as other:
        assert other.execute(query("usage_days_try_lock"),
                             {"lock": usage_days.LOCK, "org_id": org_id}).fetchone()[0]
        assert sum_days(db, org_id) == 0
    assert sum_days(db, org_id) > 0


MIDNIGHT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(("scope", "groups", "tz", "expected"), [
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), [], "UTC",
     (date(2026, 3, 1), date(2026, 3, 4))),
    (Scope(MIDNIGHT + timedelta(minutes=15), MIDNIGHT + timedelta(days=3, hours=5)),
     ["day", "model"], "UTC", (date(2026, 3, 2), date(2026, 3, 4))),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), ["week", "user"], "Etc/UTC",
     (date(2026, 3, 1), date(2026, 3, 4))),
    # A zone matters only to days and weeks.
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), ["model"], "Europe/Paris",
     (date(2026, 3, 1), date(2026, 3, 4))),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), ["day"], "Europe/Paris", (None, None)),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), ["terminal"], "UTC", (None, None)),
    # Resource attributes: usage_days_attributes, as the statement decides (below).
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), ["attr:team", "day"], "UTC",
     (date(2026, 3, 1), date(2026, 3, 4))),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3), model="claude-opus-4-1"), ["attr:team"],
     "UTC", (None, None)),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), ["attr:team", "model"], "UTC",
     (None, None)),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), ["attr:service.version"], "UTC",
     (None, None)),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3)), ["day", "attr:process.pid"], "UTC",
     (None, None)),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3), user="a@example.com"), [], "UTC",
     (None, None)),
    (Scope(MIDNIGHT, MIDNIGHT + timedelta(days=3), session_ids=["s"]), [], "UTC",
     (None, None)),
    (Scope(MIDNIGHT + timedelta(hours=1), MIDNIGHT + timedelta(days=1)), [], "UTC",
     (None, None)),
])
def test_reports_read_summed_days_only_where_the_sums_can_answer(scope, groups, tz,
                                                                 expected):
    rollup_from, rollup_to = accounting.rollup_span(scope.start, scope.end, groups, tz)
    assert accounting.summed_days(scope, groups, tz, rollup_from, rollup_to) == expected


@pytest.mark.parametrize("command", [["init-db"], ["purge"]])
def test_init_db_and_every_purge_sum_the_days_that_ended(client, org, db, cli_env,
                                                         database_url, command):
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))

    result = CliRunner().invoke(cli, command,
                                env={**cli_env, "MOJULE_OWNER_DATABASE_URL": database_url})

    assert result.exit_code == 0, result.output
    assert summed_rows(db, org_id) == [(PAST, 1, True)]
    assert db.execute("SELECT built_through FROM usage_days_built WHERE org_id = %s",
                      (org_id,)).fetchone()[0] == TODAY
    if command == ["init-db"]:
        assert f"{org.org.slug}: summed the usage of {(TODAY - PAST).days} day(s)" \
            in result.stderr


def test_summing_a_day_twice_at_once_is_refused_by_its_key(client, org, db):
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    sum_days(db, org_id)
    with pytest.raises(psycopg.errors.UniqueViolation), org_transaction(db, org_id):
        db.execute(query("usage_days_sum"), {"org_id": org_id, "days": [PAST]})
    assert summed_rows(db, org_id) == [(PAST, 1, True)]


@pytest.mark.parametrize("name", SESSIONS)
def test_each_fixture_session_summed_costs_what_it_cost_before(client, org, db, name):
    org_id = org.org.org_id
    send_at(client, org, name, at(PAST, 12, 0), ("logs", "metrics", "traces"))
    before = report(db, org_id, FROM, TO, ["model"])
    sum_days(db, org_id)
    assert summed_rows(db, org_id)
    assert report(db, org_id, FROM, TO, ["model"]) == before


def as_gauges(metrics: dict) -> dict:
    """The metrics export with every sum sent as a gauge."""
    for resource in metrics["resourceMetrics"]:
        for scope in resource["scopeMetrics"]:
            for metric in scope["metrics"]:
                metric["gauge"] = {"dataPoints": metric.pop("sum")["dataPoints"]}
    return metrics


def test_a_window_with_a_gauge_reads_no_summed_day(client, org, db):
    # A session read whole must have no gauge in the window (analytics_usage.sql): with
    # one, the summed days, which may hold its session, are not read.
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    sum_days(db, org_id)
    gauges = as_gauges(body("write-tool-resource-attrs", "metrics"))
    send(client, org, "metrics", shifted(gauges, at(TODAY, 0, 2)
                                         - first_time_ns("write-tool-resource-attrs")))
    tamper(db, org_id, TAMPER)
    for groups in ([], ["model"], ["day", "user"]):
        assert report(db, org_id, FROM, TO, groups) == \
            report(db, org_id, FROM, TO, groups, use_rollup=False), groups
    # Without the gauge in the window, the summed day is read.
    assert lines_added(db, org_id, FROM, datetime.combine(TODAY, time(), UTC)) == \
        lines_added(db, org_id, FROM, datetime.combine(TODAY, time(), UTC),
                    use_rollup=False) + TAMPER


def test_migration_0022_waits_for_a_running_ingest_and_has_every_day_summed_anew(
        fresh_database_url, monkeypatch):
    # An upgrade runs `mojule init-db` while the previous release ingests: a worker has
    # upserted its session (locking sessions) and is about to write a past day's usage,
    # which notes the day in usage_day_changes, when the migration starts. The migration
    # empties usage_day_changes: it must wait for the worker, not deadlock with it.
    every = schema.available_migrations()
    install_release_before(fresh_database_url, 22, monkeypatch)
    with connect(fresh_database_url) as conn:
        org_id = orgs.create_org(conn, "upgrading").org_id

    outcome = upgrade_while_ingesting(fresh_database_url, org_id,
                                      datetime.combine(PAST, time(10, 5), UTC),
                                      json.dumps({"department": "platform"}))

    assert outcome == {"applied": [m.version for m in every if m.version >= 22]}
    with connect(fresh_database_url) as conn:
        assert sum_days(conn, org_id) == (TODAY - PAST).days
        with org_transaction(conn, org_id):
            summed = conn.execute("SELECT day, resource_attributes, sessions"
                                  " FROM usage_days_attributes").fetchall()
        assert summed == [(PAST, {"department": "platform"}, 1)]
        for groups in (["day", "user"], ["attr:department"]):
            summed = report(conn, org_id, FROM, TO, groups)
            with mock.patch.object(accounting, "summed_days", return_value=(None, None)):
                assert summed == report(conn, org_id, FROM, TO, groups)
            assert [row["tool_calls"] for row in summed] == [1]


@pytest.mark.parametrize("key", ["department", "service.version", "service.instance.id",
                                 "service.name", "process.pid", "process.runtime.name",
                                 "processor", "host.name", "os.type"])
def test_python_and_sql_agree_on_the_attributes_of_the_process(db, key):
    (in_sql,) = db.execute("SELECT mojule_process_attribute(%s)", (key,)).fetchone()
    assert accounting.process_attribute(key) is in_sql


def with_resource_attribute(payload: dict, key: str, value: dict) -> dict:
    for resource in payload.get("resourceLogs", []) + payload.get("resourceMetrics", []):
        resource["resource"]["attributes"].append({"key": key, "value": value})
    return payload


def test_attribute_values_equal_as_numbers_but_sent_apart_stay_apart(client, org, db):
    # One exporter sends team as an integer, another as a double: the raw rows show
    # "1" and "1.0" apart, and so must the sums, though jsonb takes them for equal.
    org_id = org.org.org_id
    # Two sessions of one seat, with the same attributes but that one.
    for name, hour, value in (("bash-tool", 9, {"intValue": "1"}),
                              ("failing-bash", 17, {"doubleValue": 1.0})):
        for signal in ("logs", "metrics"):
            payload = shifted(body(name, signal), at(PAST, hour) - first_time_ns(name))
            send(client, org, signal, with_resource_attribute(payload, "team", value))
    sum_days(db, org_id)

    rows = report(db, org_id, FROM, TO, ["attr:team"])
    assert [row["key"]["attr:team"] for row in rows] == ["1", "1.0"]
    assert rows == report(db, org_id, FROM, TO, ["attr:team"], use_rollup=False)


def test_migration_0022_waits_for_a_purge_of_the_previous_release(fresh_database_url,
                                                                  monkeypatch):
    # A purge still summing in 0021's shape must finish before the tables are emptied.
    every = schema.available_migrations()
    install_release_before(fresh_database_url, 22, monkeypatch)

    with connect(fresh_database_url) as purge:
        assert purge.execute(query("purge_try_lock"),
                             {"lock": retention.PURGE_LOCK}).fetchone()[0]
        upgrade, outcome = start_upgrade(fresh_database_url)
        upgrade.join(timeout=1.5)
        assert upgrade.is_alive() and outcome == {}
        purge.execute(query("purge_unlock"), {"lock": retention.PURGE_LOCK})
        upgrade.join(timeout=60)
    assert outcome == {"applied": [m.version for m in every if m.version >= 22]}


def test_a_second_totals_row_of_a_seat_day_is_refused(client, org, db):
    # Reports grouped by day and user take a seat's totals row of a day as its group's.
    org_id = org.org.org_id
    send_at(client, org, "bash-tool", at(PAST, 9, 14))
    sum_days(db, org_id)
    with pytest.raises(psycopg.errors.UniqueViolation), org_transaction(db, org_id):
        db.execute("INSERT INTO usage_days (org_id, day, per_model, seat_identity, models,"
                   " sessions) SELECT org_id, day, false, seat_identity, ARRAY['other'], 1"
                   " FROM usage_days WHERE org_id = %s AND NOT per_model", (org_id,))
