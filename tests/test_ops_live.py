"""The real server as operators run it: gunicorn with gunicorn.conf.py and two workers.

/metrics adds up every worker's counts, SIGTERM under load loses nothing that was answered
202 and leaves nothing half-written, a purge under ingest load leaves ingest alone, and
every log line is JSON with a request id and no token.
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mojule import retention
from tests.conftest import make_org
from tests.installation import (  # noqa: F401 (fixtures)
    SIGNING_PUBLIC,
    installation_fixture,
    seat_export,
    site_fixture,
)
from tests.live import GUNICORN, ROOT, free_port, running_server
from tests.test_ops import metric

pytestmark = pytest.mark.live

RETRYABLE = {429, 502, 503, 504}
EVENTS_PER_REQUEST = 3


@pytest.fixture
def server_env(installation, master_key) -> dict[str, str]:
    """The server's environment: the installation database, as the app role."""
    return {"MOJULE_DATABASE_URL": installation.app_url, "MOJULE_MASTER_KEY": master_key,
            "MOJULE_LICENSE_PUBLIC_KEYS": base64.b64encode(SIGNING_PUBLIC).decode(),
            "MOJULE_LICENSE_CHECK_SECONDS": "1"}


def request(server, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, bytes]:
    """Send one request on a new connection; return the status and body."""
    conn = server.connection()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def log_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.log_text().splitlines() if line.strip()]


def test_metrics_add_up_the_counts_of_every_worker(site, server_env, tmp_path):
    test_org = make_org(site)
    with running_server(server_env, tmp_path / "gunicorn.log", workers=2) as server:
        def post(_):
            return request(server, "POST", "/v1/logs", seat_export(email="dev@example.com"),
                           test_org.headers)[0]

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(post, range(40)))
        time.sleep(1.1)                 # every worker's license decision is now stale
        scrapes = [request(server, "GET", "/metrics")[1].decode() for _ in range(8)]
    lines = log_lines(server)

    assert statuses == [202] * 40
    stored = site.execute("SELECT count(*) FROM log_events WHERE org_id = %s",
                          (test_org.org.org_id,)).fetchone()[0]
    assert stored == 40
    for text in scrapes:
        assert metric(text, "mojule_ingest_records_total", signal="logs", outcome="stored") == 40
        assert metric(text, "mojule_http_requests_total", method="POST", route="/v1/logs",
                      status="202") == 40
        assert metric(text, "mojule_ingest_request_duration_seconds_count", signal="logs",
                      status_class="2xx") == 40
        assert metric(text, "mojule_ingest_paused") == 0
        assert metric(text, "mojule_license_seats_in_use") == 1
    served_by = {line["pid"] for line in lines
                 if line["logger"] == "gunicorn.access" and line.get("path") == "/v1/logs"}
    assert len(served_by) == 2, "both workers should have served ingest requests"


def export_until(server, test_org, stop: threading.Event,
                 outcomes: list[tuple[str, int | str]]) -> None:
    """Export new sessions' events until ``stop`` is set or the server is gone, noting
    each session id with its status (or the name of the connection error)."""
    while not stop.is_set():
        session_id = str(uuid.uuid4())
        body = seat_export(session_id, events=EVENTS_PER_REQUEST, email="dev@example.com")
        try:
            status = request(server, "POST", "/v1/logs", body, test_org.headers)[0]
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
        outcomes.append((session_id, status))
        if status == "ConnectionRefusedError":
            return


def start_exporters(count: int, *args) -> list[threading.Thread]:
    """Start ``count`` threads running export_until(*args); return them."""
    threads = [threading.Thread(target=export_until, args=args) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_sigterm_under_load_loses_nothing_answered_202_and_half_writes_nothing(
        site, server_env, tmp_path):
    test_org = make_org(site)
    outcomes: list[tuple[str, int | str]] = []
    stop = threading.Event()

    with running_server(server_env, tmp_path / "gunicorn.log", workers=2) as server:
        senders = start_exporters(4, server, test_org, stop, outcomes)
        time.sleep(2.0)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=40)
        stop.set()
        for thread in senders:
            thread.join(timeout=20)

    assert server.process.returncode == 0, server.log_text()
    stored = dict(site.execute(
        "SELECT session_id, count(*) FROM log_events WHERE org_id = %s GROUP BY session_id",
        (test_org.org.org_id,)).fetchall())
    acknowledged = [sid for sid, status in outcomes if status == 202]
    others = [(sid, status) for sid, status in outcomes if status != 202]
    assert len(acknowledged) > 20, "the load should have been under way"
    assert all(stored.get(sid) == EVENTS_PER_REQUEST for sid in acknowledged)
    assert all(status in RETRYABLE or isinstance(status, str) for _, status in others), others
    assert all(stored.get(sid, 0) in (0, EVENTS_PER_REQUEST) for sid, _ in others)


def test_every_log_line_is_json_with_a_request_id_and_no_token(site, server_env, tmp_path):
    test_org = make_org(site)
    forged = "mtk_" + "x" * 40
    with running_server(server_env, tmp_path / "gunicorn.log", workers=2) as server:
        accepted = request(server, "POST", "/v1/logs", seat_export(email="dev@example.com"),
                           {**test_org.headers, "X-Request-ID": "ops-test-1"})
        refused = request(server, "POST", "/v1/logs", b"{}",
                          {"Authorization": f"Bearer {forged}", "X-Request-ID": "ops-test-2"})
    # Read once the server has stopped: a worker logs a request after answering it.
    text, lines = server.log_text(), log_lines(server)

    assert (accepted[0], refused[0]) == (202, 401)
    assert test_org.token not in text and forged not in text
    assert all({"time", "level", "logger", "pid", "request_id", "message"} <= set(line)
               for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "gunicorn.access"}
    assert access["ops-test-1"]["status"] == 202 and access["ops-test-2"]["status"] == 401
    assert any(line["logger"] == "mojule.auth" and line["request_id"] == "ops-test-2"
               for line in lines)


PURGED_ROWS = 60_000      # twelve of the purge's committed batches


@contextlib.contextmanager
def deletes_logged(conn):
    """Log the content rows each transaction deletes, per org, while the block runs; yield
    a function that returns an org's counts, one per transaction that deleted any."""
    conn.execute("""
        CREATE TABLE test_content_deletes (xid bigint, org_id bigint, deleted bigint);
        CREATE FUNCTION test_log_content_deletes() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER AS $$
        BEGIN
            INSERT INTO test_content_deletes
            SELECT txid_current(), org_id, count(*) FROM gone GROUP BY org_id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER test_log_content_deletes AFTER DELETE ON content_values
            REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
            EXECUTE FUNCTION test_log_content_deletes()""")
    try:
        yield lambda org_id: [deleted for (deleted,) in conn.execute(
            "SELECT sum(deleted) FROM test_content_deletes WHERE org_id = %s GROUP BY xid",
            (org_id,))]
    finally:
        conn.execute("DROP TRIGGER test_log_content_deletes ON content_values;"
                     " DROP FUNCTION test_log_content_deletes(); DROP TABLE test_content_deletes")


MOJULE = Path(sys.executable).parent / "mojule"


def test_purge_under_ingest_load_leaves_ingest_alone(site, server_env, tmp_path):
    # The purge deletes in short committed batches with a lock timeout: exports arriving
    # meanwhile are all answered 202 and stored, and the purge removes exactly what is old.
    test_org = make_org(site)
    org_id = test_org.org.org_id
    old = "now() - interval '120 days'"
    site.execute(f"SELECT mojule_ensure_partition('content_values', ({old})::date)")
    site.execute(
        "INSERT INTO content_values (org_id, time, signal, record_id, attribute, session_id,"
        "                            dek_id, ciphertext)"
        f" SELECT %s, {old} + n * interval '1 ms', 'logs', int8send(n), 'prompt', 'old',"
        "        1, sha256(int8send(n))"
        "   FROM generate_series(1, %s) AS n", (org_id, PURGED_ROWS))
    outcomes: list[tuple[str, int | str]] = []
    purged = threading.Event()

    with running_server(server_env, tmp_path / "gunicorn.log", workers=2) as server, \
            deletes_logged(site) as deletes:
        senders = start_exporters(3, server, test_org, purged, outcomes)
        purge = subprocess.run([str(MOJULE), "purge"], env={**os.environ, **server_env},
                               capture_output=True, text=True, timeout=300, check=False)
        purged.set()
        for thread in senders:
            thread.join(timeout=20)
        batches = deletes(org_id)

    assert purge.returncode == 0, purge.stderr
    # Committed batches, none larger than the purge's: never one long delete.
    assert len(batches) >= PURGED_ROWS // retention.BATCH_SIZE
    assert sum(batches) == PURGED_ROWS and max(batches) <= retention.BATCH_SIZE
    assert f"{test_org.org.slug}: removed {PURGED_ROWS} content values" in purge.stdout
    statuses = [status for _, status in outcomes]
    assert statuses and all(status == 202 for status in statuses), sorted(set(map(str, statuses)))
    stored = dict(site.execute(
        "SELECT session_id, count(*) FROM log_events WHERE org_id = %s GROUP BY session_id",
        (org_id,)).fetchall())
    assert all(stored.get(session_id) == EVENTS_PER_REQUEST for session_id, _ in outcomes)
    assert site.execute("SELECT count(*) FROM content_values WHERE org_id = %s AND time < now()"
                        " - interval '90 days'", (org_id,)).fetchone()[0] == 0


# The next release's package: its create_app adds a route the running one lacks.
NEXT_RELEASE = """

_create_app_of_this_release = create_app


def create_app(overrides=None):
    from mojule.auth import public

    app = _create_app_of_this_release(overrides)
    app.add_url_rule("/release", "release", public(lambda: {"release": "next"}))
    return app
"""


def test_a_reload_after_an_upgrade_runs_the_release_installed_now(server_env, tmp_path):
    # The master imported the package it started with (gunicorn.conf.py's log formatter):
    # a worker a reload starts must import the release installed since, whole, not the
    # master's package __init__ with the new release's modules.
    release = tmp_path / "release"
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "mojule", release / "mojule",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "sql", release / "sql")
    shutil.copy(root / "gunicorn.conf.py", release)
    with running_server(server_env, tmp_path / "gunicorn.log", workers=1,
                        release=release) as server:
        before = request(server, "GET", "/release")
        package = release / "mojule" / "__init__.py"
        package.write_text(package.read_text() + NEXT_RELEASE)
        os.kill(server.process.pid, signal.SIGHUP)
        deadline, after = time.monotonic() + 30, before
        while after[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            after = request(server, "GET", "/release")

    assert before[0] == 404
    assert after[0] == 200
    assert json.loads(after[1]) == {"release": "next"}


@pytest.mark.parametrize("setting, value, named", [
    ("MOJULE_MASTER_KEY", "short", "MOJULE_MASTER_KEY is not valid base64"),
    ("MOJULE_DATABASE_URL", "", "MOJULE_DATABASE_URL is not set"),
    ("MOJULE_POOL_SIZE", "many", "MOJULE_POOL_SIZE is malformed"),
])
def test_gunicorn_will_not_start_on_a_bad_setting_and_says_which(server_env, setting, value,
                                                                 named):
    # Not "Listening at" and then a traceback from each worker as it dies.
    result = subprocess.run(
        [str(GUNICORN), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{free_port()}"],
        cwd=ROOT, env={**os.environ, **server_env, setting: value}, capture_output=True,
        text=True, timeout=60, check=False)

    assert result.returncode == 1
    assert f"mojule: {named}" in result.stderr
    assert "Listening at" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
