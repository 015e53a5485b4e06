"""The read API for usage: who sees what, the numbers agree across endpoints and exports."""
from __future__ import annotations

import base64
import csv
import gc
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import psycopg
import pytest
from click.testing import CliRunner

from mojule import analytics, exports, security_events
from mojule.cli import cli
from mojule.db import get_connection
from tests import test_security_events as security
from tests.conftest import (
    FIXTURES,
    fixture_bytes,
    ingest_session,
    make_org,
    make_user,
    session_id_of,
)
from tests.test_analytics import shifted

SESSIONS = ("bash-tool", "failing-bash", "write-tool-resource-attrs")
WINDOW = "from=2026-11-01&to=2026-12-01"


def claude_result(session: str) -> dict:
    return json.loads((FIXTURES / "claude-code-2.1.328" / session / "claude-result.json").read_text())


@pytest.fixture
def loaded(client, db, org):
    """An org with the three recorded sessions, an admin and two members."""
    people = {
        "admin": make_user(db, org, "admin@example.com", "admin"),
        "alice": make_user(db, org, "alice@example.com", "member"),
        "carol": make_user(db, org, "carol@example.com", "member"),
    }
    ids = {name: ingest_session(client, org, name) for name in SESSIONS}
    return people, ids


def get(client, url: str, user):
    return client.get(url, headers=user.headers)


def test_session_detail_matches_claude_codes_own_accounting(client, loaded):
    people, ids = loaded
    for name, session_id in ids.items():
        expected = claude_result(name)
        body = get(client, f"/api/v1/sessions/{session_id}", people["admin"]).get_json()

        assert Decimal(body["cost_usd"]) == Decimal(str(expected["total_cost_usd"]))
        assert body["tokens"] == {
            "input": expected["usage"]["input_tokens"],
            "output": expected["usage"]["output_tokens"],
            "cache_read": expected["usage"]["cache_read_input_tokens"],
            "cache_creation": expected["usage"]["cache_creation_input_tokens"],
        }
        assert all("prompt" not in json.dumps(event) or "content_keys" in event
                   for event in body["timeline"])
        assert "Please" not in json.dumps(body)


def test_usage_totals_equal_the_sum_of_the_sessions(client, loaded):
    people, _ = loaded
    sessions = get(client, f"/api/v1/sessions?{WINDOW}", people["admin"]).get_json()["sessions"]
    total = get(client, f"/api/v1/usage?{WINDOW}", people["admin"]).get_json()["rows"]
    by_day_model = get(client, f"/api/v1/usage?{WINDOW}&group_by=day&group_by=model",
                       people["admin"]).get_json()["rows"]

    assert len(sessions) == 3 and len(total) == 1
    session_cost = sum(Decimal(row["cost_usd"]) for row in sessions)
    assert Decimal(total[0]["cost_usd"]) == session_cost
    assert sum(Decimal(row["cost_usd"]) for row in by_day_model) == session_cost
    for kind in ("input", "output", "cache_read", "cache_creation"):
        assert total[0]["tokens"][kind] == sum(row["tokens"][kind] for row in sessions)
    assert total[0]["sessions"] == 3


def same_in_csv(text: str, value) -> bool:
    """True when ``text``, a CSV field, is ``value``, a flattened field of the API's JSON."""
    if value is None:
        return text == ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return text == str(value)          # text, and cost_usd as its exact decimal text
    return (int(text) if isinstance(value, int) else float(text)) == value


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("person", ["admin", "alice"])
@pytest.mark.parametrize("groups", [[], ["user"], ["day", "user"], ["attr:department", "model"],
                                    ["week", "terminal"]])
def test_usage_csv_export_equals_the_api(client, loaded, groups, person):
    viewer = loaded[0][person]
    url = WINDOW + "".join(f"&group_by={group}" for group in groups)
    api_rows = [exports.flatten(row)
                for row in get(client, f"/api/v1/usage?{url}", viewer).get_json()["rows"]]
    response = get(client, f"/api/v1/export/usage.csv?{url}", viewer)
    header, *lines = parse_csv(response.get_data(as_text=True))

    assert response.mimetype == "text/csv"
    assert api_rows and len(lines) == len(api_rows)
    # The groups first, then the API's figures, flattened.
    assert header[:len(groups)] == groups and sorted(header) == sorted(api_rows[0])
    for line, api_row in zip(lines, api_rows):
        for column, text in zip(header, line, strict=True):
            assert same_in_csv(text, api_row[column]), (column, text, api_row[column])
    # Lines end as RFC 4180 has them, like the sessions export's.
    assert response.get_data().count(b"\r\n") == len(api_rows) + 1




def test_a_teams_export_is_named_by_its_team_and_never_as_another_teams(client, loaded):
    window = "&from=2026-11-01T00:00:00&to=2026-12-01T00:00:00&tz=Europe/Paris"

    def name(path: str) -> str:
        response = get(client, f"/api/v1/export/{path}{window}", loaded[0]["admin"])
        return re.search(r'filename="([^"]+)"', response.headers["Content-Disposition"])[1]

    readable = name("usage.csv?group_by=user&attr:department=R%26D%20EU")
    both = name("sessions.csv?attr:team=a&attr:department=platform")
    long = name(f"sessions.csv?attr:team={'x' * 100}")
    alike = {name(f"sessions.csv?attr:team={value}") for value in ("a%20b", "a_b", "a/b")}

    assert re.fullmatch(r"mojule-usage-by-user-department_R_D_EU-[0-9a-f]{8}"
                        r"-2026-11-01-to-2026-11-30\.csv", readable)
    assert re.fullmatch(r"mojule-sessions-department_platform-team_a-[0-9a-f]{8}"
                        r"-2026-11-01-to-2026-11-30\.csv", both)
    assert re.fullmatch(rf"mojule-sessions-team_{'x' * 55}-[0-9a-f]{{8}}"
                        r"-2026-11-01-to-2026-11-30\.csv", long)
    assert len(alike) == 3


@pytest.mark.parametrize("path, name", [
    ("usage.csv?group_by=user", "mojule-usage-by-user-2026-11-01-to-2026-11-30.csv"),
    ("usage.ndjson?group_by=attr:department&group_by=model",
     "mojule-usage-by-attr_department-model-2026-11-01-to-2026-11-30.ndjson"),
    ("usage.csv?", "mojule-usage-2026-11-01-to-2026-11-30.csv"),
    ("sessions.csv?", "mojule-sessions-2026-11-01-to-2026-11-30.csv"),
    ("events.ndjson?", "mojule-events-2026-11-01-to-2026-11-30.ndjson"),
])
def test_an_export_is_named_by_its_grouping_and_its_days(client, loaded, path, name):
    # [from, to) in Paris: November, its last day the 30th.
    window = "&from=2026-11-01T00:00:00&to=2026-12-01T00:00:00&tz=Europe/Paris"

    response = get(client, f"/api/v1/export/{path}{window}", loaded[0]["admin"])

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'


def test_sessions_csv_export_equals_the_api(client, loaded):
    admin = loaded[0]["admin"]
    api_rows = [exports.flatten(row) for row in get(
        client, f"/api/v1/sessions?{WINDOW}&limit=500", admin).get_json()["sessions"]]
    header, *lines = parse_csv(get(client, f"/api/v1/export/sessions.csv?{WINDOW}", admin)
                               .get_data(as_text=True))

    assert len(lines) == len(api_rows) == len(SESSIONS)
    assert sorted(header) == sorted(api_rows[0])    # every field of the list, by its name
    for line, api_row in zip(lines, api_rows, strict=True):     # both newest first
        for column, text in zip(header, line, strict=True):
            assert same_in_csv(text, api_row[column]), (column, text, api_row[column])

def test_usage_csv_keeps_keys_that_csv_must_quote(client, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    department = 'R&D, "platform"\nand tools'
    logs = json.loads(fixture_bytes("bash-tool", "logs"))
    for resource in logs["resourceLogs"]:
        resource["resource"]["attributes"].append(
            {"key": "department", "value": {"stringValue": department}})
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202
    url = f"/api/v1/export/usage.csv?{WINDOW}&group_by=attr:department&group_by=day"

    header, *lines = parse_csv(get(client, url, admin).get_data(as_text=True))
    empty = parse_csv(get(client, url.replace("2026-11-01", "2026-11-30"), admin)
                      .get_data(as_text=True))

    assert header[:2] == ["attr:department", "day"]
    assert [line[0] for line in lines] == [department] * len(lines) and lines
    assert empty == [header]                # no usage: the header alone



def test_csv_exports_keep_texts_a_spreadsheet_would_run_as_formulas_text(client, db, org):
    # A developer's machine says what its department and terminal are: opened in a
    # spreadsheet, an export must not run what it said (OWASP, CSV injection).
    admin = make_user(db, org, "admin@example.com", "admin")
    department, terminal = '=HYPERLINK("https://evil.example","x")', "@SUM(1+1)"
    team = "core;=1+2"      # in a spreadsheet splitting at ;, "=1+2" would be a cell
    logs = json.loads(fixture_bytes("bash-tool", "logs"))
    for resource in logs["resourceLogs"]:
        resource["resource"]["attributes"] += [
            {"key": "department", "value": {"stringValue": department}},
            {"key": "team", "value": {"stringValue": team}}]
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                for attribute in record["attributes"]:
                    if attribute["key"] == "terminal.type":
                        attribute["value"] = {"stringValue": terminal}
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202
    grouped = f"{WINDOW}&group_by=attr:department&group_by=terminal"

    usage = parse_csv(get(client, f"/api/v1/export/usage.csv?{grouped}", admin)
                      .get_data(as_text=True))
    sessions = list(csv.DictReader(io.StringIO(get(
        client, f"/api/v1/export/sessions.csv?{WINDOW}", admin).get_data(as_text=True),
        newline="")))
    (api,) = get(client, f"/api/v1/usage?{grouped}", admin).get_json()["rows"]
    by_team = get(client, f"/api/v1/export/usage.csv?{WINDOW}&group_by=attr:team", admin)
    raw_sessions = get(client, f"/api/v1/export/sessions.csv?{WINDOW}", admin)

    assert usage[1][:2] == ["'" + department, "'" + terminal]
    assert [row["terminal_type"] for row in sessions] == ["'" + terminal]

    assert api["key"] == {"attr:department": department, "terminal": terminal}   # JSON as sent
    # Every text is quoted, so a spreadsheet splitting at ; keeps it whole.
    assert by_team.get_data(as_text=True).splitlines()[1].startswith(f'"{team}",')
    assert all(line.startswith('"') for line in raw_sessions.get_data(as_text=True).splitlines())
    for answer in (by_team, raw_sessions):
        answer.close()
    with get(client, f"/api/v1/export/sessions.csv?{WINDOW}&attribute=department,team",
             admin) as answer:
        with_columns = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True),
                                                       newline="")))
    assert [(row["attr:department"], row["attr:team"]) for row in with_columns] == [
        ("'" + department, team)]

def test_the_sessions_export_gives_the_resource_attributes_asked_for_as_columns(client, db,
                                                                                 org):
    admin = make_user(db, org, "admin@example.com", "admin")
    sent = {"department": "platform", "cost.center": 4410, "on_call": True,
            "labels": ["a", "b"]}
    for session, attributes in (("bash-tool", sent), ("failing-bash", {})):
        logs = json.loads(fixture_bytes(session, "logs"))
        for resource in logs["resourceLogs"]:
            resource["resource"]["attributes"] += [
                {"key": key, "value": _any_value(value)} for key, value in attributes.items()]
        assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202
    url = f"/api/v1/export/sessions.csv?{WINDOW}&attribute=department&attribute=cost.center," \
          "on_call,labels,missing"
    sessions = {row["session_id"]: row for row in csv.DictReader(io.StringIO(
        get(client, url, admin).get_data(as_text=True), newline=""))}
    listed = {row["session_id"]: row for row in get(
        client, f"/api/v1/sessions?{WINDOW}", admin).get_json()["sessions"]}
    with_them, without = sessions[session_id_of("bash-tool")], sessions[
        session_id_of("failing-bash")]

    assert list(with_them)[-5:] == ["attr:department", "attr:cost.center", "attr:on_call",
                                    "attr:labels", "attr:missing"]
    assert (with_them["attr:department"], with_them["attr:cost.center"],
            with_them["attr:on_call"], with_them["attr:labels"], with_them["attr:missing"]) \
        == ("platform", "4410", "true", '["a","b"]', "")
    assert all(without[f"attr:{key}"] == "" for key in sent)
    # The whole map is in the list and detail, and in the export as JSON.
    for session_id, row in sessions.items():
        assert listed[session_id]["resource_attributes"] == json.loads(
            row["resource_attributes"])
    assert {key: listed[session_id_of("bash-tool")]["resource_attributes"][key]
            for key in sent} == sent


def _any_value(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any_value(item) for item in value]}}
    return {"stringValue": value}


@pytest.mark.parametrize("query, problem", [
    ("attribute=bad%20key", "does not name a resource attribute"),
    ("attribute=team&attribute=team", "repeated"),
    ("attribute=" + ",".join(f"k{index}" for index in range(9)), "at most 8"),
])
def test_a_sessions_export_refuses_attribute_columns_it_cannot_give(client, loaded, query,
                                                                    problem):
    answer = get(client, f"/api/v1/export/sessions.csv?{WINDOW}&{query}", loaded[0]["admin"])
    assert answer.status_code == 400
    assert "attribute" in answer.get_json()["message"] and problem in answer.get_json()["message"]


def test_ndjson_exports_carry_no_content(client, loaded):
    people, _ = loaded
    # Streamed answers are read at once: the test client keeps a stream's context open.
    text = get(client, f"/api/v1/export/events.ndjson?{WINDOW}", people["admin"]).get_data(as_text=True)
    usage = get(client, f"/api/v1/export/usage.ndjson?{WINDOW}&group_by=model",
                people["admin"]).get_data(as_text=True)
    lines = [json.loads(line) for line in text.splitlines()]

    assert len(lines) == sum(
        len(record["logRecords"])
        for name in SESSIONS
        for resource in json.loads((FIXTURES / "claude-code-2.1.328" / name / "logs.json")
                                   .read_text())["resourceLogs"]
        for record in resource["scopeLogs"])
    assert "RUNCMD" not in text and "secret-answer-42" not in text and "acme-app" not in text
    assert any("prompt" in line["content_keys"] for line in lines)
    assert [json.loads(line)["key"]["model"] for line in usage.splitlines()]


def test_the_events_export_gives_each_cost_as_its_exact_decimal_text(client, loaded):
    people, ids = loaded
    text = get(client, f"/api/v1/export/events.ndjson?{WINDOW}", people["admin"]).get_data(as_text=True)
    costs = [(line["session_id"], line["cost_usd"]) for line in map(json.loads, text.splitlines())
             if line["event_name"] == "api_request"]

    assert costs and all(isinstance(cost, str) for _, cost in costs)
    for name, session_id in ids.items():
        assert sum(Decimal(cost) for session, cost in costs if session == session_id) \
            == Decimal(str(claude_result(name)["total_cost_usd"]))


def test_a_streamed_export_is_sent_in_pieces_of_many_lines(client, loaded):
    # A server writes each piece of a streamed answer as an HTTP chunk of its own.
    people, _ = loaded
    response = client.get(f"/api/v1/export/events.ndjson?{WINDOW}",
                          headers=people["admin"].headers, buffered=False)
    pieces = list(response.response)
    response.close()

    assert len(b"".join(pieces).splitlines()) > 20
    assert len(b"".join(pieces)) < exports.STREAM_CHUNK and len(pieces) == 1



@pytest.mark.parametrize("export", ["sessions.csv", "events.ndjson", "usage.csv"])
def test_a_streamed_export_keeps_its_connection_until_it_ends(app, client, loaded, export):
    # Flask tears a request down, giving its connection back to the pool, when the view
    # returns: before a streamed body has run. The pool closes a connection that comes
    # back past its max_lifetime, or after drain(); the body must not be using it then.
    people, _ = loaded

    def drain_the_pool():
        get_connection()
        app.extensions["mojule.pool"].drain()

    app.before_request_funcs.setdefault(None, []).append(drain_the_pool)
    response = get(client, f"/api/v1/export/{export}?{WINDOW}", people["admin"])

    assert response.status_code == 200
    assert len(response.get_data().splitlines()) >= 2   # a header or a line, and a line


def pool_stats(app) -> dict:
    return app.extensions["mojule.pool"].get_stats()


def test_export_answers_never_read_give_their_connections_back(app, client, loaded):
    # An answer a hook or the server throws away is neither read nor closed: its body
    # gives the request's connection back when it is collected, or the pool runs dry.
    people, _ = loaded
    for _ in range(2 * app.config["MOJULE"]["POOL_SIZE"]):
        response = client.head(f"/api/v1/export/events.ndjson?{WINDOW}",
                               headers=people["admin"].headers)
        assert response.status_code == 200
        del response
    gc.collect()

    assert get(client, f"/api/v1/usage?{WINDOW}", people["admin"]).status_code == 200
    assert pool_stats(app)["pool_available"] == pool_stats(app)["pool_size"]


def test_an_export_failing_midway_gives_its_connection_back_idle(app, client, loaded,
                                                                  monkeypatch):
    # A failure in the Python part of the body ends the events' transaction at once; the
    # pool would otherwise get the connection back inside it, and throw it away.
    people, _ = loaded

    class BrokenWriter:
        Fragment = orjson.Fragment

        @staticmethod
        def dumps(value, **options):
            raise TypeError("cannot write this")

    monkeypatch.setattr(exports, "orjson", BrokenWriter)
    with pytest.raises(TypeError, match="cannot write this"):
        get(client, f"/api/v1/export/events.ndjson?{WINDOW}", people["admin"]).get_data()

    assert pool_stats(app).get("returns_bad", 0) == 0
    assert pool_stats(app)["pool_available"] == pool_stats(app)["pool_size"]

@pytest.mark.parametrize("kind", [str, bytes])
def test_chunks_join_lines_into_pieces_of_at_least_their_size(kind):
    lines = [kind(f"line {number}\n", "ascii") if kind is bytes else f"line {number}\n"
             for number in range(500)]
    pieces = list(exports.chunks(iter(lines), 100))

    assert kind().join(pieces) == kind().join(lines)
    assert all(100 <= len(piece) < 100 + len(lines[-1]) for piece in pieces[:-1])
    assert 0 < len(pieces[-1]) and all(type(piece) is kind for piece in pieces)
    assert list(exports.chunks([], 100)) == []


def test_closing_the_chunks_closes_the_lines_at_once():
    closed = []

    def lines():
        try:
            while True:
                yield "x" * 60
        finally:
            closed.append(True)

    source = lines()    # still referenced here: only a close() can end it
    pieces = exports.chunks(source, 100)
    first = next(pieces)
    pieces.close()

    assert len(first) == 120 and closed == [True]



WINDOW_TIMES = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def test_the_usage_csv_export_is_read_before_the_download_starts(db, loaded, org):
    # Read in the request, as the JSON report is: a failing database is the request's
    # error (a JSON 503), and the connection is idle, free for the pool, when it returns.
    lines = exports.usage_csv(db, org.org.org_id, *WINDOW_TIMES, ["user"], "UTC", None)

    assert db.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert parse_csv(lines[0].decode())[0][:2] == ["user", "cost_usd"]
    assert lines[0].endswith(b"\r\n")
    assert len(lines) == 1 + len(analytics.usage(db, org.org.org_id, *WINDOW_TIMES, ["user"])) > 2


def test_a_sessions_export_reads_every_page_from_one_snapshot(client, db, loaded, org):
    # Pages go newest first by last_seen. A session not yet exported that gets new
    # activity mid-export moves ahead of the page being read: read in transactions of
    # their own, the pages left it out.
    _, ids = loaded
    org_id = org.org.org_id
    listed, _ = analytics.list_sessions(db, org_id, *WINDOW_TIMES, limit=100)
    newest_first = [row["session_id"] for row in listed]
    oldest = next(name for name, session_id in ids.items() if session_id == newest_first[-1])

    rows = exports.session_rows(db, org_id, *WINDOW_TIMES, None, page_size=1)
    exported = [next(rows)["session_id"]]
    later = shifted(json.loads(fixture_bytes(oldest, "logs")), 3600 * 10**9)
    assert client.post("/v1/logs", json=later, headers=org.headers).status_code == 202
    exported += [row["session_id"] for row in rows]

    assert exported == newest_first
    moved, _ = analytics.list_sessions(db, org_id, *WINDOW_TIMES, limit=1)
    assert moved[0]["session_id"] == ids[oldest]   # the activity did move it ahead


def test_usage_csv_names_long_attributes_in_full_and_is_utf8_whatever_the_connection(
        client, db, org):
    key = "team.cost_center." + "x" * 80    # PostgreSQL cuts a name at 63 bytes
    logs = json.loads(fixture_bytes("bash-tool", "logs"))
    for resource in logs["resourceLogs"]:
        resource["resource"]["attributes"].append({"key": key, "value": {"stringValue": "Zürich"}})
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202
    db.execute("SET client_encoding TO 'LATIN1'")

    lines = exports.usage_csv(db, org.org.org_id, *WINDOW_TIMES, [f"attr:{key}"], "UTC", None)
    header, *rows = parse_csv(b"".join(lines).decode("utf-8"))

    assert header[0] == f"attr:{key}"
    assert [row[0] for row in rows] == ["Zürich"]

def fixture_events(name: str) -> list[dict]:
    """The recorded session's log records, each as {attribute key: value as sent}."""
    logs = json.loads((FIXTURES / "claude-code-2.1.328" / name / "logs.json").read_text())
    return [{item["key"]: next(iter(item["value"].values()), None)
             for item in record.get("attributes", [])}
            for resource in logs["resourceLogs"] for scope in resource["scopeLogs"]
            for record in scope["logRecords"]]


def test_the_events_export_keeps_the_events_and_the_seat_asked_for(client, loaded):
    people, _ = loaded
    sent = [event for name in SESSIONS for event in fixture_events(name)]
    wanted = {"tool_result", "api_request"}
    alice_email = {event.get("user.email") for event in fixture_events(
        "write-tool-resource-attrs")} - {None}
    assert len(alice_email) == 1

    # Repeated, comma-separated, and with the claude_code. prefix Claude Code's body has.
    # Streamed answers are read at once: the test client keeps a stream's context open.
    picked = get(client, f"/api/v1/export/events.ndjson?{WINDOW}&event=tool_result"
                         "&event=claude_code.api_request,tool_result",
                 people["admin"]).get_data(as_text=True)
    alices = get(client, f"/api/v1/export/events.ndjson?{WINDOW}&user="
                         f"{next(iter(alice_email)).upper()}",
                 people["admin"]).get_data(as_text=True)

    lines = [json.loads(line) for line in picked.splitlines()]
    assert sorted(line["event_name"] for line in lines) == sorted(
        event["event.name"] for event in sent if event["event.name"] in wanted)
    assert lines and {line["event_name"] for line in lines} == wanted
    alice_lines = [json.loads(line) for line in alices.splitlines()]
    assert len(alice_lines) == len(fixture_events("write-tool-resource-attrs"))
    assert {line["user_email"] for line in alice_lines} == alice_email


@pytest.mark.parametrize("event", ["api request", "x" * 129, ",".join(["a"] * 51)])
def test_a_bad_event_name_is_refused_naming_the_parameter(client, loaded, event):
    people, _ = loaded
    response = get(client, f"/api/v1/export/events.ndjson?{WINDOW}&event={event}",
                   people["admin"])

    assert response.status_code == 400
    assert "'event'" in response.get_json()["message"]


def test_members_see_only_their_own_sessions_and_usage(client, loaded):
    people, ids = loaded
    alice, carol = people["alice"], people["carol"]
    events = get(client, f"/api/v1/export/events.ndjson?{WINDOW}", carol).get_data(as_text=True)

    alice_sessions = get(client, f"/api/v1/sessions?{WINDOW}", alice).get_json()["sessions"]
    carol_sessions = get(client, f"/api/v1/sessions?{WINDOW}", carol).get_json()["sessions"]
    alice_usage = get(client, f"/api/v1/usage?{WINDOW}", alice).get_json()["rows"]

    assert [row["session_id"] for row in alice_sessions] == [ids["write-tool-resource-attrs"]]
    assert carol_sessions == []
    assert Decimal(alice_usage[0]["cost_usd"]) == Decimal(
        str(claude_result("write-tool-resource-attrs")["total_cost_usd"]))
    assert get(client, f"/api/v1/sessions/{ids['bash-tool']}", alice).status_code == 404
    assert events == ""
    # Asking for another seat's events narrows a member's own; it never widens them.
    others = get(client, f"/api/v1/export/events.ndjson?{WINDOW}&user=carol@example.com",
                 alice).get_data(as_text=True)
    assert others == ""


def test_another_org_gets_404_for_sessions_and_sees_nothing(client, db, loaded):
    _, ids = loaded
    stranger = make_user(db, make_org(db), "eve@example.com", "admin")

    assert get(client, f"/api/v1/sessions/{ids['bash-tool']}", stranger).status_code == 404
    assert get(client, f"/api/v1/sessions?{WINDOW}", stranger).get_json()["sessions"] == []


def test_session_list_pages_with_a_cursor(client, loaded):
    people, ids = loaded
    first = get(client, f"/api/v1/sessions?{WINDOW}&limit=2", people["admin"]).get_json()
    second = get(client, f"/api/v1/sessions?{WINDOW}&limit=2&cursor={first['next_cursor']}",
                 people["admin"]).get_json()

    seen = [row["session_id"] for row in first["sessions"] + second["sessions"]]
    assert sorted(seen) == sorted(ids.values()) and second["next_cursor"] is None
    last_seen = [row["last_seen"] for row in first["sessions"] + second["sessions"]]
    assert last_seen == sorted(last_seen, reverse=True)


@pytest.mark.parametrize("query, parameter", [
    ("group_by=bogus", "group_by"),
    ("from=not-a-date", "from"),
    ("from=2026-11-10&to=2026-11-01", "to"),
    ("tz=Mars/Olympus", "tz"),
    ("tz=posix/Europe/Berlin", "tz"),
    ("tz=CET", "tz"),
    ("limit=0", "limit"),
    ("cursor=garbage", "cursor"),
])
def test_bad_parameters_get_400_naming_the_parameter(client, loaded, query, parameter):
    people, _ = loaded
    url = "/api/v1/sessions" if parameter in ("limit", "cursor") else "/api/v1/usage"

    response = get(client, f"{url}?{query}", people["admin"])

    assert response.status_code == 400
    assert f"'{parameter}'" in response.get_json()["message"]


@pytest.mark.parametrize("query, parameter", [
    ("group_by=bogus", "group_by"),
    ("group_by=attr:no%20spaces", "group_by"),
    ("from=2026-11-10&to=2026-11-01", "to"),
    ("tz=Mars/Olympus", "tz"),
])
@pytest.mark.parametrize("export", ["usage.csv", "usage.ndjson"])
def test_a_usage_export_with_a_bad_parameter_is_a_400_before_any_line(client, loaded, query,
                                                                       parameter, export):
    response = get(client, f"/api/v1/export/{export}?{query}", loaded[0]["admin"])

    assert response.status_code == 400
    assert f"'{parameter}'" in response.get_json()["message"]


# A cursor that decodes to a session id with a NUL in it.
NUL_CURSOR = base64.urlsafe_b64encode(
    b'["2026-11-01T00:00:00+00:00", "a\\u0000b"]').decode().rstrip("=")


@pytest.mark.parametrize("url, parameter", [
    ("/api/v1/sessions?user=a%00b", "user"),
    ("/api/v1/sessions?model=a%00b", "model"),
    (f"/api/v1/sessions?cursor={NUL_CURSOR}", "cursor"),
    ("/api/v1/usage?user=a%00b", "user"),
    ("/api/v1/usage?group_by=day&tz=UTC%00", "tz"),
    ("/api/v1/sessions/a%00b", "session_id"),
    ("/api/v1/sessions/a%00b/content", "session_id"),
    ("/api/v1/export/sessions.csv?model=a%00b", "model"),
    ("/api/v1/export/events.ndjson?user=a%00b", "user"),
    ("/api/v1/export/usage.csv?user=a%00b", "user"),
])
def test_a_nul_character_in_a_parameter_is_a_400_naming_it(client, loaded, url, parameter):
    # PostgreSQL's text holds no NUL: passed on, the parameter failed there, as a 500.
    response = get(client, url, loaded[0]["admin"])

    assert response.status_code == 400
    assert f"'{parameter}'" in response.get_json()["message"]


def costly_copy(name: str, session_id: str, cost_usd: str) -> bytes:
    """A recorded session's logs under another session id, each request costing ``cost_usd``."""
    logs = json.loads(fixture_bytes(name, "logs"))
    for resource in logs["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                values = {attr["key"]: attr["value"] for attr in record["attributes"]}
                values["session.id"] = {"stringValue": session_id}
                if values["event.name"] == {"stringValue": "api_request"}:
                    values["cost_usd"] = {"doubleValue": float(cost_usd)}
                    values["cost_usd_micros"] = {"intValue": str(int(Decimal(cost_usd) * 10**6))}
                record["attributes"] = [{"key": key, "value": value}
                                        for key, value in values.items()]
    return json.dumps(logs).encode()


def test_sessions_sorted_by_cost_are_the_costliest_first(client, loaded, org):
    people, ids = loaded
    costly = "c0571e55-0000-4000-8000-000000000001"
    response = client.post("/v1/logs", data=costly_copy("failing-bash", costly, "2.5"),
                           headers=org.headers)
    assert response.status_code == 202
    admin = people["admin"]

    recent = get(client, f"/api/v1/sessions?{WINDOW}&limit=500", admin).get_json()["sessions"]
    by_cost = get(client, f"/api/v1/sessions?{WINDOW}&sort=cost&limit=500", admin).get_json()
    top_two = get(client, f"/api/v1/sessions?{WINDOW}&sort=cost&limit=2", admin).get_json()

    expected = sorted(recent, key=lambda row: (-Decimal(row["cost_usd"]),
                                               -sum(row["tokens"].values()), row["session_id"]))
    assert len(recent) == 4 and by_cost["next_cursor"] is None
    assert by_cost["sessions"] == expected
    assert by_cost["sessions"][0]["session_id"] == costly
    assert top_two["sessions"] == expected[:2]
    # A member's costliest are their own.
    alice = get(client, f"/api/v1/sessions?{WINDOW}&sort=cost", people["alice"]).get_json()
    assert [row["session_id"] for row in alice["sessions"]] == \
        [ids["write-tool-resource-attrs"]]
    # Filters keep to their sessions as the newest-first list does.
    user = expected[1]["user"]["seat_identity"]
    mine = get(client, f"/api/v1/sessions?{WINDOW}&sort=cost&user={user}", admin).get_json()
    assert {row["session_id"] for row in mine["sessions"]} == \
        {row["session_id"] for row in recent if row["user"]["seat_identity"] == user}


@pytest.mark.parametrize("query, message", [
    ("sort=cost&cursor=abc", "sort=cost gives"),
    ("sort=price", "must be one of recent, cost"),
])
def test_a_sort_the_list_cannot_give_is_a_clear_400(client, loaded, query, message):
    people, _ = loaded
    response = get(client, f"/api/v1/sessions?{WINDOW}&{query}", people["admin"])
    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_a_session_id_with_a_slash_opens_like_any_other(client, loaded, org):
    # Claude Code sends UUIDs; another exporter may send any text, slashes included.
    people, ids = loaded
    session_id = "team/x 1"
    logs = fixture_bytes("bash-tool", "logs").decode().replace(ids["bash-tool"], session_id)
    assert client.post("/v1/logs", data=logs, headers=org.headers).status_code == 202

    detail = get(client, "/api/v1/sessions/team%2Fx%201", people["admin"])
    content = get(client, "/api/v1/sessions/team%2Fx%201/content", people["admin"])

    assert detail.status_code == 200 and detail.get_json()["session_id"] == session_id
    assert content.status_code == 200 and content.get_json()["session_id"] == session_id


def test_an_empty_filter_filters_nothing(client, loaded):
    # As a missing one, and as the dashboard's empty field: not "the user named ''".
    admin = loaded[0]["admin"]
    for url, filters in (("/api/v1/usage", "user="), ("/api/v1/sessions", "user=&model=")):
        unfiltered = get(client, f"{url}?{WINDOW}", admin).get_json()
        assert get(client, f"{url}?{WINDOW}&{filters}", admin).get_json() == unfiltered
    sessions = get(client, f"/api/v1/sessions?{WINDOW}&user=", admin).get_json()["sessions"]
    assert len(sessions) == len(SESSIONS)


def test_cli_export_matches_the_api(client, loaded, org, app_database_url, master_key):
    people, _ = loaded
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    result = CliRunner().invoke(cli, ["export", "usage", "--org", org.org.slug, "--from",
                                      "2026-11-01", "--to", "2026-12-01", "--group-by", "model"],
                                env=env)
    api = get(client, f"/api/v1/export/usage.csv?{WINDOW}&group_by=model",
              people["admin"]).get_data(as_text=True)

    assert result.exit_code == 0, result.output
    assert result.stdout.replace("\r\n", "\n") == api.replace("\r\n", "\n")


@pytest.mark.parametrize("export, query", [("usage", "group_by=user"), ("sessions", "")])
def test_cli_export_keeps_to_a_team_as_the_api_does(client, loaded, org, app_database_url,
                                                    master_key, export, query):
    people, _ = loaded
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    result = CliRunner().invoke(cli, ["export", export, "--org", org.org.slug, "--from",
                                      "2026-11-01", "--to", "2026-12-01",
                                      "--attr", "department=platform",
                                      *(["--group-by", "user"] if query else [])], env=env)
    api = get(client, f"/api/v1/export/{export}.csv?{WINDOW}&{query}&attr:department=platform",
              people["admin"]).get_data(as_text=True)

    assert result.exit_code == 0, result.output
    assert result.stdout.replace("\r\n", "\n") == api.replace("\r\n", "\n")
    assert len(parse_csv(api)) == 2


@pytest.mark.parametrize("arguments, query", [
    (["usage", "--group-by", "day", "--user", "Alice@Example.com"], "usage.csv?group_by=day&user=Alice%40Example.com"),
    (["sessions", "--user", "alice@example.com"], "sessions.csv?user=alice%40example.com"),
    (["sessions", "--model", "claude-haiku-9"], "sessions.csv?model=claude-haiku-9"),
    (["sessions", "--attribute", "department", "--attribute", "os.type"],
     "sessions.csv?attribute=department,os.type"),
])
def test_cli_export_filters_as_the_api_does(client, loaded, org, app_database_url, master_key,
                                            arguments, query):
    # The API's exports took user (and model) filters that the CLI's did not.
    people, _ = loaded
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    command, *options = arguments
    result = CliRunner().invoke(cli, ["export", command, "--org", org.org.slug, "--from",
                                      "2026-11-01", "--to", "2026-12-01", *options], env=env)
    api = get(client, f"/api/v1/export/{query}&{WINDOW}", people["admin"]).get_data(as_text=True)
    everyone = get(client, f"/api/v1/export/{query.split('?')[0]}?{WINDOW}",
                   people["admin"]).get_data(as_text=True)

    assert result.exit_code == 0, result.output
    assert result.stdout.replace("\r\n", "\n") == api.replace("\r\n", "\n")
    assert api != everyone                  # the filter kept some rows out


@pytest.mark.parametrize("attrs, problem", [
    (["department"], "as KEY=VALUE"),
    (["department=a", "department=b"], "as KEY=VALUE"),
    (["bad key=a"], "does not name a resource attribute"),
    ([f"department={'x' * 1025}"], "1 to 1024 characters"),
])
def test_cli_export_refuses_a_bad_team_saying_why(org, app_database_url, master_key, attrs,
                                                  problem):
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    result = CliRunner().invoke(cli, ["export", "sessions", "--org", org.org.slug,
                                      *[arg for attr in attrs for arg in ("--attr", attr)]],
                                env=env)

    assert result.exit_code == 2 and "--attr" in result.output and problem in result.output


def test_cli_events_export_filters_as_the_api_does(client, db, loaded, org, app_database_url,
                                                   master_key):
    people, _ = loaded
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    window = ["--from", "2026-11-01", "--to", "2026-12-01"]
    result = CliRunner().invoke(cli, ["export", "events", "--org", org.org.slug, *window,
                                      "--event", "tool_decision", "--event", "tool_result"],
                                env=env)
    api = get(client, f"/api/v1/export/events.ndjson?{WINDOW}&event=tool_decision,tool_result",
              people["admin"]).get_data(as_text=True)
    refused = CliRunner().invoke(cli, ["export", "events", "--org", org.org.slug,
                                       "--event", "no such event"], env=env)

    assert result.exit_code == 0, result.output
    assert result.stdout == api
    assert {json.loads(line)["event_name"] for line in api.splitlines()} == {
        "tool_decision", "tool_result"}
    assert refused.exit_code == 2 and "--event" in refused.output
    alice = CliRunner().invoke(cli, ["export", "events", "--org", org.org.slug, *window,
                                     "--user", "alice@example.com"], env=env)
    assert alice.exit_code == 0, alice.output
    assert {json.loads(line)["user_email"] for line in alice.stdout.splitlines()} == {
        "alice@example.com"}
    # The fixtures' accepted tool decisions and API requests are not what a security
    # review counts; a denied tool and a switch to bypassPermissions are.
    when = datetime(2026, 11, 26, 12, tzinfo=UTC)
    reviewed = [security.event("tool_decision", "alice@example.com", 90, security.NOW - when,
                               tool_name="Bash", decision="reject"),
                security.event("permission_mode_changed", "alice@example.com", 91,
                               security.NOW - when, to_mode="bypassPermissions")]
    sent = client.post("/v1/logs", headers=org.headers, json={"resourceLogs": [
        {"scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"},
                        "logRecords": reviewed}]}]})
    assert sent.status_code == 202, sent.text
    notable = CliRunner().invoke(cli, ["export", "events", "--org", org.org.slug, *window,
                                       "--notable"], env=env)
    api = get(client, f"/api/v1/export/events.ndjson?{WINDOW}&notable=1",
              people["admin"]).get_data(as_text=True)
    assert notable.exit_code == 0, notable.output
    assert notable.stdout == api
    counted = security_events.summary(db, org.org.org_id, *WINDOW_TIMES)
    assert sorted(json.loads(line)["event_name"] for line in api.splitlines()) == sorted(
        entry.kind.event_name for entry in counted for _ in range(entry.events)) == [
        "permission_mode_changed", "tool_decision"]


def test_cli_export_to_a_file_replaces_it_only_once_whole(loaded, org, app_database_url,
                                                          master_key, tmp_path, monkeypatch):
    # A failure mid-export (here the database going away) used to leave the file cut
    # short, its older content lost, and a traceback.
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    args = ["export", "events", "--org", org.org.slug, "--from", "2026-11-01", "--to",
            "2026-12-01"]
    target = tmp_path / "events.ndjson"
    target.write_text("the export of yesterday\n")
    whole = CliRunner().invoke(cli, args, env=env).stdout
    lines = exports.ndjson_lines

    def failing(rows):
        yield next(lines(rows))
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(exports, "ndjson_lines", failing)
    failed = CliRunner().invoke(cli, [*args, "-o", str(target)], env=env)

    assert failed.exit_code == 1 and "lost the database connection" in failed.output
    assert failed.exception is None or isinstance(failed.exception, SystemExit)
    assert target.read_text() == "the export of yesterday\n"
    assert [path.name for path in tmp_path.iterdir()] == ["events.ndjson"]
    monkeypatch.setattr(exports, "ndjson_lines", lines)
    written = CliRunner().invoke(cli, [*args, "-o", str(target)], env=env)
    assert written.exit_code == 0 and written.stdout == ""
    assert target.read_text() == whole and len(whole.splitlines()) > 20


def test_cli_usage_export_by_an_unknown_group_fails_clearly(org, app_database_url, master_key):
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}

    result = CliRunner().invoke(cli, ["export", "usage", "--org", org.org.slug,
                                      "--group-by", "colour"], env=env)

    assert result.exit_code == 2 and "unknown group 'colour'" in result.output
    assert "--group-by" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_usage_report_of_a_day_out_of_range_fails_clearly(org, app_database_url,
                                                             master_key):
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}

    result = CliRunner().invoke(cli, ["export", "usage-report", "--org", org.org.slug,
                                      "--day", "1900-01-01"], env=env)

    assert result.exit_code == 2 and "--day: must be a day between" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("args, option", [
    (["--tz", "Mars/Olympus"], "--tz"),
    (["--from", "2026-11-10", "--to", "2026-11-01"], "--to"),
    (["--from", "last tuesday"], "--from"),
    (["--to", "0001-01-02"], "--to"),
])
@pytest.mark.parametrize("what", ["usage", "sessions", "events"])
def test_cli_export_bad_options_exit_2_naming_the_option(org, app_database_url, master_key,
                                                         what, args, option):
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}

    result = CliRunner().invoke(cli, ["export", what, "--org", org.org.slug, *args], env=env)

    assert result.exit_code == 2
    assert option in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


API_REFERENCE = FIXTURES.parent.parent / "docs" / "api.rst"


def test_the_api_reference_names_every_read_route_and_no_other(app):
    documented = set(re.findall(r"/api/v1/[A-Za-z0-9_./<>-]*[A-Za-z0-9>]",
                                API_REFERENCE.read_text()))
    served = {re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/")}
    # The exports are listed by their names after the first one's directory.
    documented |= {f"/api/v1/export/{name}" for name in
                   re.findall(r"``(usage\.ndjson|sessions\.csv|events\.ndjson)``",
                              API_REFERENCE.read_text())}

    assert served - documented == set()
    assert documented - served == set()


def test_the_events_export_decodes_attributes_to_the_values_stored(client, org, db):
    # The export decodes attributes with orjson (mojule/exports.py): the extremes OTLP
    # values reach come out as the standard library reads the stored JSON.
    logs = json.loads(fixture_bytes("bash-tool", "logs"))
    record = logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["attributes"] += [
        {"key": "int.max", "value": {"intValue": "9223372036854775807"}},
        {"key": "int.min", "value": {"intValue": "-9223372036854775808"}},
        {"key": "double.max", "value": {"doubleValue": 1.7976931348623157e308}},
        {"key": "double.min", "value": {"doubleValue": 5e-324}},
        {"key": "nested", "value": {"kvlistValue": {"values": [{"key": "list", "value": {
            "arrayValue": {"values": [{"intValue": "1"}, {"doubleValue": 0.1},
                                      {"stringValue": "é\u2028😀"}, {"boolValue": False}]}}}]}}},
    ]
    response = client.post("/v1/logs", json=logs, headers=org.headers)
    assert response.status_code == 202, response.get_json()

    as_decimals = {"parse_float": Decimal, "parse_int": Decimal}
    lines = exports.ndjson_lines(exports.event_rows(
        db, org.org.org_id, datetime(2020, 1, 1, tzinfo=UTC), datetime(2999, 1, 1, tzinfo=UTC),
        None))
    exported = [json.loads(line, **as_decimals)["attributes"] for line in lines]
    stored = [json.loads(text, **as_decimals) for (text,) in db.execute(
        "SELECT attributes::text FROM log_events WHERE org_id = %s"
        " ORDER BY time, event_sequence NULLS LAST, record_id",
        (org.org.org_id,))]
    # The same numbers (PostgreSQL writes the largest double as an integer, the export as
    # a double), every text and structure the same.
    assert exported == stored
    (extremes,) = [attributes for attributes in exported if "int.max" in attributes]
    assert (extremes["int.max"], extremes["int.min"]) == (2**63 - 1, -2**63)
    assert extremes["double.max"] == Decimal("1.7976931348623157e308")
    assert extremes["nested"] == {"list": [1, Decimal("0.1"), "é\u2028😀", False]}


def test_events_of_one_moment_export_in_their_sequence(client, db, org):
    # Claude Code stamps events of one moment with their order in event.sequence (three
    # plugin_loaded events at start-up); their record ids would give any order.
    admin = make_user(db, org, "boss@example.com", "admin")
    logs = json.loads(fixture_bytes("bash-tool", "logs"))
    records = logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    first = records[0]
    same_moment = []
    for sequence in (3, 1, 2, 5, 4):
        record = json.loads(json.dumps(first))
        record["attributes"] = [item for item in record["attributes"]
                                if item["key"] not in ("event.sequence", "event.name")]
        record["attributes"] += [
            {"key": "event.sequence", "value": {"intValue": str(sequence)}},
            {"key": "event.name", "value": {"stringValue": "plugin_loaded"}}]
        same_moment.append(record)
    logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = same_moment
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202

    exported = get(client, f"/api/v1/export/events.ndjson?{WINDOW}&event=plugin_loaded",
                   admin).get_data(as_text=True)

    sequences = [json.loads(line)["event_sequence"] for line in exported.splitlines()]
    assert sequences == [1, 2, 3, 4, 5]


TEAM = "attr:department=platform"      # write-tool-resource-attrs alone carries it


def test_a_resource_attribute_filter_keeps_that_teams_sessions_everywhere(client, loaded):
    people, ids = loaded
    admin = people["admin"]
    sessions = {row["session_id"]: row for row in get(
        client, f"/api/v1/sessions?{WINDOW}", admin).get_json()["sessions"]}
    team_session = sessions[ids["write-tool-resource-attrs"]]

    listed = get(client, f"/api/v1/sessions?{WINDOW}&{TEAM}", admin).get_json()["sessions"]
    (total,) = get(client, f"/api/v1/usage?{WINDOW}&{TEAM}", admin).get_json()["rows"]
    by_user = get(client, f"/api/v1/usage?{WINDOW}&{TEAM}&group_by=user", admin).get_json()
    usage_csv = parse_csv(get(client, f"/api/v1/export/usage.csv?{WINDOW}&{TEAM}&group_by=user",
                              admin).get_data(as_text=True))
    sessions_csv = parse_csv(get(client, f"/api/v1/export/sessions.csv?{WINDOW}&{TEAM}",
                                 admin).get_data(as_text=True))

    assert [row["session_id"] for row in listed] == [ids["write-tool-resource-attrs"]]
    assert total["sessions"] == 1
    assert Decimal(total["cost_usd"]) == Decimal(team_session["cost_usd"]) > 0
    assert total["tokens"] == team_session["tokens"]
    assert [row["key"]["user"] for row in by_user["rows"]] == ["alice@example.com"]
    assert len(usage_csv) == 2 and usage_csv[1][0] == "alice@example.com"
    assert len(sessions_csv) == 2 and ids["write-tool-resource-attrs"] in sessions_csv[1]


def test_resource_attribute_filters_combine_and_keep_a_members_own_scope(client, loaded):
    people, ids = loaded
    both = f"{TEAM}&attr:host.arch=amd64"
    other = f"{TEAM}&attr:host.arch=arm64"

    def listed(query: str, viewer) -> list[str]:
        return [row["session_id"] for row in get(
            client, f"/api/v1/sessions?{WINDOW}&{query}", viewer).get_json()["sessions"]]

    assert listed(both, people["admin"]) == [ids["write-tool-resource-attrs"]]
    assert listed(other, people["admin"]) == []
    assert get(client, f"/api/v1/usage?{WINDOW}&{other}", people["admin"]).get_json()[
        "rows"][0]["sessions"] == 0
    assert listed(TEAM, people["alice"]) == [ids["write-tool-resource-attrs"]]
    assert listed(TEAM, people["carol"]) == []
    # A blank value filters nothing, as a blank user does.
    assert len(listed("attr:department=", people["admin"])) == len(SESSIONS)


@pytest.mark.parametrize("query, parameter", [
    ("attr:bad%20key=x", "attr:bad key"),
    ("attr:department=a%00b", "attr:department"),
    (f"attr:department={'x' * 1025}", "attr:department"),
    ("attr:department=a&attr:department=b", "attr:department"),
    ("attr:a=1&attr:b=2&attr:c=3&attr:d=4&attr:e=5", "attr:"),
])
@pytest.mark.parametrize("url", ["/api/v1/usage", "/api/v1/sessions",
                                 "/api/v1/export/usage.csv", "/api/v1/export/sessions.csv"])
def test_a_bad_resource_attribute_filter_is_a_400_naming_it(client, loaded, url, query,
                                                              parameter):
    response = get(client, f"{url}?{WINDOW}&{query}", loaded[0]["admin"])

    assert response.status_code == 400
    assert f"'{parameter}'" in response.get_json()["message"]


def read_api_urls(app, session_id: str) -> list[str]:
    """Every GET route of the read API, with a real session for those that name one."""
    return sorted(rule.rule.replace("<path:session_id>", session_id)
                  for rule in app.url_map.iter_rules()
                  if rule.rule.startswith("/api/v1/") and "GET" in rule.methods)


def test_every_read_api_route_refuses_a_parameter_it_does_not_take(app, client, loaded):
    # A typo (usr= for user=) would otherwise answer with the whole org's figures.
    people, ids = loaded
    urls = read_api_urls(app, ids["bash-tool"])
    assert len(urls) >= 12

    for url in urls:
        response = get(client, f"{url}?usr=alice%40example.com", people["admin"])
        assert response.status_code == 400, url
        assert "Unknown parameter 'usr'" in response.get_json()["message"], url


def test_usage_refuses_a_model_filter_and_says_to_group_by_model(client, loaded):
    admin = loaded[0]["admin"]

    for url in ("/api/v1/usage", "/api/v1/export/usage.csv", "/api/v1/export/usage.ndjson"):
        response = get(client, f"{url}?{WINDOW}&model=claude-opus-5-5", admin)
        assert response.status_code == 400, url
        assert "group_by=model" in response.get_json()["message"], url


def test_the_parameters_an_endpoint_documents_pass_the_check(client, loaded):
    admin, alice = loaded[0]["admin"], loaded[0]["alice"]
    team = "attr:department=platform&attr:team.name=x"

    def answer(url: str, person=admin) -> int:
        response = get(client, url, person)
        response.get_data()    # a download holds its connection until it is read
        return response.status_code

    answers = [
        answer(f"/api/v1/usage?{WINDOW}&tz=UTC&group_by=day&user=&{team}"),
        answer(f"/api/v1/sessions?{WINDOW}&tz=UTC&user=&model=&limit=5&{team}"),
        answer(f"/api/v1/export/sessions.csv?{WINDOW}&tz=UTC&user=&model=&{team}"),
        answer(f"/api/v1/export/events.ndjson?{WINDOW}&tz=UTC&user=&event=api_request"
               "&notable=false"),
        answer("/api/v1/audit?from=2026-11-01T00:00:00Z&actor=x&session=y&after=0&limit=5"),
        answer(f"/api/v1/security-events?{WINDOW}&tz=UTC"),
        answer("/api/v1/usage_report/claude_code?starting_at=2026-11-26&limit=5"),
        answer("/api/v1/content-reads?before=5&limit=5", alice),
    ]

    assert answers == [200] * len(answers)
