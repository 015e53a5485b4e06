"""The official OpenTelemetry JavaScript exporters, at Claude Code's versions, against a live Mojule.

tests/interop/send.mjs sends logs, metrics and spans over http/json, configured only by
the OTEL_* environment as Claude Code is, and prints what the exporters reported as sent.
Each test compares one part of that with what the database holds, once for a plain run
and once for a gzip run. Skipped only when node or npm is not on PATH (.ci/run installs
them); the npm packages are installed with `npm ci` when missing or out of date.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mojule import orgs
from mojule.db import connect
from tests.node_packages import installed

if TYPE_CHECKING:  # pytest loads tests.live itself, as a plugin, so that it rewrites asserts
    from tests.live import LiveServer

pytest_plugins = ["tests.live"]
pytestmark = pytest.mark.interop

INTEROP = Path(__file__).parent / "interop"
SEND_TIMEOUT = 60
TEMPORALITY = {1: "delta", 2: "cumulative"}


@dataclass
class Export:
    org_id: int
    sent: dict            # what send.mjs printed: requests, logs, metrics, spans, warnings
    compression: str


@pytest.fixture(scope="session")
def node() -> str:
    """Return the path of node, with tests/interop's packages installed; skip without node."""
    return installed(INTEROP)


def run_send(node: str, server: LiveServer, token: str,
             compression: str = "none") -> tuple[int | str, dict, str]:
    """Run send.mjs against ``server``; return (exit status, what it printed, stderr)."""
    # The caller's own OTEL_* settings (a developer's Claude Code, say) must not leak in.
    environ = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    environ.update({
        "OTEL_EXPORTER_OTLP_ENDPOINT": server.url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {token}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_COMPRESSION": compression,
    })
    log_start = server.log_size()
    try:
        result = subprocess.run([node, str(INTEROP / "send.mjs")], env=environ, check=False,
                                capture_output=True, text=True, timeout=SEND_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        result = subprocess.CompletedProcess(exc.cmd, "timeout", exc.stdout, exc.stderr)
    try:
        return result.returncode, json.loads(result.stdout), result.stderr
    except (TypeError, ValueError):
        pytest.fail(f"send.mjs exited with {result.returncode} and no report\n--- stdout\n"
                    f"{result.stdout}\n--- stderr\n{result.stderr}\n--- gunicorn\n"
                    f"{server.log_text(log_start)}")


def run_exporters(node: str, server: LiveServer, token: str, compression: str) -> dict:
    """Run send.mjs, which must succeed; return what it sent."""
    status, sent, stderr = run_send(node, server, token, compression)
    assert status == 0, f"the exporters failed: {sent['errors']}\n{stderr}"
    return sent


@pytest.fixture(scope="module", params=["none", "gzip"])
def exported(request, node, live_server, database_url) -> Export:
    """One run of the JS exporters into a new org, plain or gzip-compressed."""
    with connect(database_url) as conn:
        org = orgs.create_org(conn, f"interop-{request.param}-{os.urandom(4).hex()}")
        token = orgs.create_ingest_token(conn, org, "interop")
    sent = run_exporters(node, live_server, token, request.param)
    return Export(org.org_id, sent, request.param)


def test_every_export_request_gets_202_and_no_warning(exported):
    requests = exported.sent["requests"]
    assert {request["path"] for request in requests} == {"/v1/logs", "/v1/metrics", "/v1/traces"}
    for request in requests:
        assert request["status"] == 202, request
        assert request["contentType"] == "application/json"
        assert request["userAgent"] == "OTel-OTLP-Exporter-JavaScript/0.208.0"
        # The exporter pipes its body: chunked, with no Content-Length.
        assert request["contentLength"] is None
        assert request["contentEncoding"] == (None if exported.compression == "none" else "gzip")
        assert request["response"]["accepted"] is True
        assert "partialSuccess" not in request["response"]
    # A partial success or any other complaint from the SDK would show here.
    assert exported.sent["warnings"] == []


def test_answered_counts_add_up_to_what_was_sent(exported):
    answered = Counter()
    for request in exported.sent["requests"]:
        answered.update(request["response"]["counts"])
    sent = exported.sent
    assert answered == Counter(logEvents=len(sent["logs"]), metricPoints=len(sent["metrics"]),
                               spans=len(sent["spans"]))


def test_log_records_are_stored_as_sent(exported, db):
    rows = db.execute(
        "SELECT event_name, session_id, time_unix_nano FROM log_events WHERE org_id = %s",
        (exported.org_id,)).fetchall()
    sent = [(log["eventName"], log["sessionId"], int(log["timeUnixNano"]))
            for log in exported.sent["logs"]]
    assert len(sent) == 4
    assert sorted(rows) == sorted(sent)


def test_prompt_is_stored_only_encrypted(exported, db):
    prompt = exported.sent["prompt"]
    for table in ("log_events", "spans"):
        plaintext = db.execute(f"SELECT count(*) FROM {table} AS t "
                               "WHERE org_id = %s AND strpos(t::text, %s) > 0",
                               (exported.org_id, prompt)).fetchone()[0]
        assert plaintext == 0, f"the prompt is in plaintext in {table}"
    assert db.execute("SELECT content_keys FROM log_events WHERE org_id = %s "
                      "AND event_name = 'user_prompt'", (exported.org_id,)).fetchone() == (["prompt"],)
    content = db.execute("SELECT signal, attribute, ciphertext FROM content_values "
                         "WHERE org_id = %s", (exported.org_id,)).fetchall()
    assert sorted((signal, attribute) for signal, attribute, _ in content) == [
        ("logs", "prompt"), ("traces", "user_prompt")]
    assert not any(prompt.encode() in ciphertext for _, _, ciphertext in content)


def test_metric_points_keep_temporality_start_and_time(exported, db):
    rows = db.execute(
        "SELECT metric_name, temporality, is_monotonic, value, start_time_unix_nano, "
        "time_unix_nano FROM metric_points WHERE org_id = %s", (exported.org_id,)).fetchall()
    stored = [(name, TEMPORALITY[temporality], monotonic, float(value), start, time)
              for name, temporality, monotonic, value, start, time in rows]
    sent = [(point["name"], point["temporality"], point["monotonic"], float(point["value"]),
             int(point["startTimeUnixNano"]), int(point["timeUnixNano"]))
            for point in exported.sent["metrics"]]
    # Two cumulative collections in the same millisecond would be one point sent twice,
    # which the server rightly stores once; anything else must match one to one.
    assert sorted(stored) == sorted(set(sent))

    def series(name: str) -> list[tuple]:
        return sorted((point for point in sent if point[0] == name), key=lambda point: point[5])

    # Delta: each point covers only its own interval, starting where the last one ended.
    cost = series("claude_code.cost.usage")
    assert [(point[1], point[3]) for point in cost] == [("delta", 0.0125), ("delta", 0.5)]
    assert cost[1][4] == cost[0][5]
    # Cumulative: a fixed start and running totals. The delta preference (Claude Code's)
    # still exports up-down counters as cumulative, so one request can hold both.
    lines = series("claude_code.lines_of_code.count")
    assert {point[1] for point in lines} == {"cumulative"}
    assert len({point[4] for point in lines}) == 1
    assert [point[3] for point in lines][:2] == [12.0, 15.0]
    assert {point[1] for point in series("claude_code.tools.active")} == {"cumulative"}


def test_spans_are_stored_with_their_parents(exported, db):
    rows = db.execute("SELECT trace_id, span_id, parent_span_id, name FROM spans "
                      "WHERE org_id = %s", (exported.org_id,)).fetchall()
    sent = [(span["traceId"], span["spanId"], span["parentSpanId"], span["name"])
            for span in exported.sent["spans"]]
    assert sorted(rows, key=str) == sorted(sent, key=str)
    (root,) = [span for span in sent if span[2] is None]
    assert sorted(span[3] for span in sent if span[2] == root[1]) == [
        "claude_code.llm_request", "claude_code.tool"]


def test_revoked_token_is_refused_with_401_that_the_exporters_see(node, live, db):
    org = orgs.create_org(db, f"interop-revoked-{os.urandom(4).hex()}")
    token = orgs.create_ingest_token(db, org, "interop")
    orgs.revoke_ingest_token(db, org, token[:12])
    status, sent, _ = run_send(node, live, token)
    assert status == 1
    # An answer, not a connection reset while the exporter was still streaming its body.
    assert {request["status"] for request in sent["requests"]} == {401}
    assert all("UNAUTHORIZED" in error for error in sent["errors"] if "export failed" in error)
    assert sent["logs"] == sent["metrics"] == sent["spans"] == []
    assert db.execute("SELECT count(*) FROM log_events WHERE org_id = %s",
                      (org.org_id,)).fetchone()[0] == 0
