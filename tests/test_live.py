"""The real server over real HTTP: gunicorn with two workers, the recorded Claude Code exports.

What the Flask test client cannot show: gunicorn's own handling of connections, chunked
bodies and compressed bodies, and a commit that is visible to another connection.
"""
from __future__ import annotations

import gzip
import http.client
import json
import socket
from collections.abc import Iterable

import pytest
import zstandard

from mojule.body import DRAIN_SECONDS
from tests.conftest import FIXTURES, fixture_bytes

pytest_plugins = ["tests.live"]
pytestmark = pytest.mark.live

SESSIONS = sorted(path.name for path in (FIXTURES / "claude-code-2.1.328").iterdir())
SIGNALS = ("logs", "metrics", "traces")
COUNT_NAMES = {"logs": "logEvents", "metrics": "metricPoints", "traces": "spans"}
TABLES = {"logs": "log_events", "metrics": "metric_points", "traces": "spans"}
METRIC_KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")


def record_count(signal: str, body: bytes) -> int:
    """Return how many log records, metric points or spans an OTLP/JSON export holds."""
    payload = json.loads(body)
    if signal == "logs":
        return sum(len(scope["logRecords"]) for resource in payload["resourceLogs"]
                   for scope in resource["scopeLogs"])
    if signal == "traces":
        return sum(len(scope["spans"]) for resource in payload["resourceSpans"]
                   for scope in resource["scopeSpans"])
    return sum(len(metric[kind]["dataPoints"]) for resource in payload["resourceMetrics"]
               for scope in resource["scopeMetrics"] for metric in scope["metrics"]
               for kind in METRIC_KINDS if kind in metric)


def post(conn: http.client.HTTPConnection, signal: str, body: bytes | Iterable[bytes],
         headers: dict[str, str], **kwargs) -> tuple[http.client.HTTPResponse, dict]:
    """POST an export to /v1/<signal>; return the response and its decoded JSON body."""
    conn.request("POST", f"/v1/{signal}", body=body, headers=headers, **kwargs)
    response = conn.getresponse()
    return response, json.loads(response.read())


def stored(db, org_id: int) -> dict[str, int]:
    """Return how many rows each signal's table holds for the org."""
    return {signal: db.execute(f"SELECT count(*) FROM {table} WHERE org_id = %s",
                               (org_id,)).fetchone()[0]
            for signal, table in TABLES.items()}


@pytest.mark.parametrize("session", SESSIONS)
def test_recorded_exports_get_202_with_their_counts_and_land_under_the_org(live, org, db, session):
    conn = live.connection()
    expected = {}
    for signal in SIGNALS:
        body = fixture_bytes(session, signal)
        expected[signal] = record_count(signal, body)
        response, answer = post(conn, signal, body, org.headers)
        assert response.status == 202, answer
        assert response.getheader("Content-Type") == "application/json"
        assert answer["accepted"] is True
        assert answer["skipped"] == 0
        assert "partialSuccess" not in answer
        assert answer["counts"] == {name: expected[signal] if other == signal else 0
                                    for other, name in COUNT_NAMES.items()}
        assert len(answer["sessionIds"]) == 1
    assert stored(db, org.org.org_id) == expected


def test_one_kept_alive_connection_carries_every_export(live, org, db):
    # Node's keep-alive agent (Claude Code) reuses a socket until the server says otherwise.
    # Sync workers close after each answer; saying so in the answer lets the client open a
    # new socket instead of writing into a closed one (0.208.0 drops data on ECONNRESET).
    conn = live.connection()
    headers = {**org.headers, "Connection": "keep-alive"}
    expected = dict.fromkeys(SIGNALS, 0)
    kept_socket = None
    for session in SESSIONS:
        for signal in SIGNALS:
            body = fixture_bytes(session, signal)
            conn.request("POST", f"/v1/{signal}", body=body, headers=headers)
            if kept_socket is not None:
                assert conn.sock is kept_socket
            response = conn.getresponse()
            answer = json.loads(response.read())
            assert response.status == 202, answer
            kept_socket = None if response.will_close else conn.sock
            expected[signal] += record_count(signal, body)
    assert stored(db, org.org.org_id) == expected


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress), ("zstd", zstandard.ZstdCompressor().compress)])
def test_compressed_export_is_stored(live, org, db, encoding, compress):
    body = fixture_bytes(SESSIONS[0], "logs")
    response, answer = post(live.connection(), "logs", compress(body),
                            {**org.headers, "Content-Encoding": encoding})
    assert response.status == 202, answer
    assert answer["counts"]["logEvents"] == record_count("logs", body)
    assert stored(db, org.org.org_id)["logs"] == record_count("logs", body)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_chunked_export_without_content_length_is_read_whole(live, org, db, compressed):
    # The OTel JS exporter pipes its body, gzip or not, so it arrives chunked.
    body = fixture_bytes(SESSIONS[0], "traces")
    headers = dict(org.headers)
    wire = body
    if compressed:
        wire = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    chunks = (wire[i:i + 1000] for i in range(0, len(wire), 1000))
    response, answer = post(live.connection(), "traces", chunks, headers, encode_chunked=True)
    assert response.status == 202, answer
    assert answer["counts"]["spans"] == record_count("traces", body)
    assert stored(db, org.org.org_id)["traces"] == record_count("traces", body)


# Over the default body limit (20 MiB), sent as OTel JS sends any body: piped, chunked.
OVERSIZED = 24 * 1024 * 1024


def test_a_streamed_body_refused_as_too_large_still_hears_its_413(live, org):
    # Refused part way through, a body the client is still writing used to meet a reset
    # connection: EPIPE, which exporters retry, where they drop a batch refused with 413.
    padding = b"a" * (64 * 1024)
    chunks = [b'{"resourceLogs":[],"pad":"', *[padding] * (OVERSIZED // len(padding)), b'"}']

    response, answer = post(live.connection(), "logs", iter(chunks), org.headers,
                            encode_chunked=True)

    assert (response.status, answer["error"]) == (413, "payload_too_large")


def stalled_request(live, head: str, timeout: float) -> bytes:
    """Send a request line and headers promising a body of a megabyte, then three bytes
    of it and nothing more; return the status line of the answer (a timeout fails)."""
    with socket.create_connection((live.host, live.port), timeout=timeout) as sock:
        sock.sendall(f"{head}\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc".encode())
        return sock.makefile("rb").readline()


@pytest.mark.parametrize("path", ["/no-such-page", "/sign-in", "/v1/logs"])
def test_a_body_that_never_comes_holds_no_worker_unless_its_token_was_accepted(live, path):
    # Nothing reads the body of a request refused before its token was accepted: were a
    # refusal to wait for the rest, a few such sockets would hold every worker.
    status = stalled_request(live, f"POST {path} HTTP/1.1\r\nContent-Type: text/plain",
                             timeout=10)
    assert status.split()[1] in (b"401", b"403", b"404", b"400")


def test_an_accepted_exports_refused_body_is_waited_for_only_a_few_seconds(live, org):
    # 415 from the headers; the drain that lets a streaming client hear it gives up at
    # its deadline even while a read is waiting, well before gunicorn's worker timeout.
    head = (f"POST /v1/logs HTTP/1.1\r\nContent-Type: text/plain\r\n"
            f"Authorization: {org.headers['Authorization']}")
    status = stalled_request(live, head, timeout=DRAIN_SECONDS + 10)
    assert status.split()[1] == b"415"


def test_export_without_token_gets_401_and_writes_nothing(live, db):
    before = db.execute("SELECT count(*) FROM log_events").fetchone()[0]
    response, answer = post(live.connection(), "logs", fixture_bytes(SESSIONS[0], "logs"),
                            {"Content-Type": "application/json"})
    assert response.status == 401
    assert response.getheader("WWW-Authenticate") == "Bearer"
    assert answer["error"] == "unauthorized"
    assert db.execute("SELECT count(*) FROM log_events").fetchone()[0] == before
