"""Database failures: 503 with a short Retry-After (exporters retry it; they drop data on a
500), nothing half-written, and the worker's connection still good afterwards.
"""
from __future__ import annotations

import copy
import gc
from contextlib import contextmanager

import orjson
import psycopg

from mojule import create_app, receiver, schema
from mojule.crypto import ContentCipher, content_aad, load_master_key, unwrap_data_key
from mojule.db import close_pool, connect, get_connection
from tests.conftest import fixture_bytes
from tests.ingest_support import (
    app_client,
    database_snapshot,
    fixture_payload,
    org_row_counts,
    records,
)

UNREACHABLE = "postgresql://mojule@127.0.0.1:1/mojule?connect_timeout=1"


def assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert response.is_json
    assert response.get_json()["error"] == "unavailable"
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 5


def later(payload: dict, signal: str, nanos: int) -> dict:
    """The export moved ``nanos`` later: new records of the same session."""
    moved = copy.deepcopy(payload)
    for record in records(moved, signal):
        for field in ("timeUnixNano", "observedTimeUnixNano", "startTimeUnixNano"):
            if field in record:
                record[field] = str(int(record[field]) + nanos)
    return moved


@contextmanager
def sessions_row_locked(db, org_id: int):
    """Hold the org's sessions rows locked from another connection."""
    with db.transaction():
        db.execute("SELECT 1 FROM sessions WHERE org_id = %s FOR UPDATE", (org_id,))
        yield


def test_unreachable_database_is_503_with_retry_after_for_an_authenticated_request(config,
                                                                                   org):
    with app_client(config, DATABASE_URL=UNREACHABLE) as client:
        response = client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs"),
                               headers=org.headers)

    assert_unavailable(response)


def test_unreachable_database_still_refuses_a_malformed_token_with_401(config):
    with app_client(config, DATABASE_URL=UNREACHABLE) as client:
        response = client.post("/v1/logs", data=b"{}", headers={
            "Authorization": "Bearer mtk_not-a-token", "Content-Type": "application/json"})

    assert response.status_code == 401


def test_timeout_while_storing_is_503_and_leaves_nothing_half_written(client, config, org, db):
    assert client.post("/v1/metrics", data=fixture_bytes("bash-tool", "metrics"),
                       headers=org.headers).status_code == 202
    before = database_snapshot(db)
    payload = later(fixture_payload("bash-tool", "logs"), "logs", 10**9)

    with app_client(config, POOL_SIZE=1, STATEMENT_TIMEOUT_MS=300) as impatient:
        with sessions_row_locked(db, org.org.org_id):
            response = impatient.post("/v1/logs", json=payload, headers=org.headers)

        assert_unavailable(response)
        assert database_snapshot(db) == before
        # The exporter retries on the same worker, and the same pooled connection.
        retried = impatient.post("/v1/logs", json=payload, headers=org.headers)

    assert retried.status_code == 202
    assert retried.get_json()["duplicates"] == 0
    assert org_row_counts(db, org.org.org_id)["log_events"] == len(records(payload, "logs"))


def test_failed_store_does_not_break_the_connection_for_any_signal(client, config, org, db):
    assert client.post("/v1/logs", data=fixture_bytes("failing-bash", "logs"),
                       headers=org.headers).status_code == 202

    with app_client(config, POOL_SIZE=1, STATEMENT_TIMEOUT_MS=300) as impatient:
        for signal in ("traces", "metrics", "logs"):
            payload = later(fixture_payload("failing-bash", signal), signal, 5 * 10**9)
            with sessions_row_locked(db, org.org.org_id):
                assert_unavailable(impatient.post(f"/v1/{signal}", json=payload,
                                                  headers=org.headers))
            assert impatient.post(f"/v1/{signal}", json=payload,
                                  headers=org.headers).status_code == 202


def test_content_stored_after_a_failed_first_request_decrypts_with_the_stored_key(
        client, config, master_key, org, db):
    # The org's first content creates its data key inside the ingest transaction; when
    # that transaction fails, the key must not live on in the worker's cache.
    assert client.post("/v1/metrics", data=fixture_bytes("bash-tool", "metrics"),
                       headers=org.headers).status_code == 202
    body = fixture_bytes("bash-tool", "logs")

    with app_client(config, POOL_SIZE=1, STATEMENT_TIMEOUT_MS=300) as impatient:
        with sessions_row_locked(db, org.org.org_id):
            assert_unavailable(impatient.post("/v1/logs", data=body, headers=org.headers))
        assert impatient.post("/v1/logs", data=body, headers=org.headers).status_code == 202

    master = load_master_key(master_key)
    rows = db.execute(
        "SELECT c.record_id, c.attribute, c.dek_id, c.ciphertext, k.wrapped_key"
        "  FROM content_values c"
        "  LEFT JOIN data_keys k ON k.org_id = c.org_id AND k.dek_id = c.dek_id"
        " WHERE c.org_id = %s AND c.attribute = 'prompt'", (org.org.org_id,)).fetchall()
    assert len(rows) == 1
    record_id, attribute, dek_id, ciphertext, wrapped = rows[0]
    assert wrapped is not None, "content was encrypted with a data key that was never stored"
    cipher = ContentCipher(unwrap_data_key(master, wrapped, org.org.org_id, dek_id), dek_id)
    plaintext = cipher.decrypt(ciphertext, content_aad(org.org.org_id, "logs", record_id,
                                                       attribute, dek_id))
    assert orjson.loads(plaintext) == "Please RUNCMD now"


def test_ingest_commits_durably_even_where_the_role_turned_synchronous_commit_off(
        config, db, caplog):
    # A 202 promises the batch survives a crash: with synchronous_commit off, COMMIT returns
    # before the WAL is flushed. The app's connections turn it back on, and say so.
    db.execute(f"ALTER ROLE {schema.APP_ROLE} SET synchronous_commit = off")
    try:
        app = create_app(config)
        try:
            with app.app_context(), caplog.at_level("WARNING", logger="mojule.db"):
                conn = get_connection()
                setting = conn.execute("SHOW synchronous_commit").fetchone()[0]
        finally:
            close_pool(app)
        with connect(config["DATABASE_URL"]) as plain:
            role_default = plain.execute("SHOW synchronous_commit").fetchone()[0]
    finally:
        db.execute(f"ALTER ROLE {schema.APP_ROLE} RESET synchronous_commit")

    assert role_default == "off"
    assert setting == "on"
    assert "synchronous_commit is off" in caplog.text


def test_options_in_the_database_url_are_kept_beside_the_pools_own(config):
    # The pool passes its own server options (timeouts, jit); an operator's options in
    # MOJULE_DATABASE_URL (here work_mem) must not be dropped for them.
    url = psycopg.conninfo.make_conninfo(config["DATABASE_URL"], options="-c work_mem=7MB")
    app = create_app({**config, "DATABASE_URL": url})
    try:
        with app.app_context():
            conn = get_connection()
            work_mem, jit = (conn.execute(f"SHOW {name}").fetchone()[0]
                             for name in ("work_mem", "jit"))
    finally:
        close_pool(app)

    assert (work_mem, jit) == ("7MB", "off")


def test_the_cycle_collector_rests_during_an_ingest_and_resumes_after_any_outcome(
        client, config, org, db, monkeypatch):
    # A request's decoded body is some 10^5 objects the cycle collector would walk again and
    # again (mojule/receiver.py, gc_paused); it must be back on after every request.
    collector_on_while_storing = []
    store = receiver.store

    def watching_store(*args, **kwargs):
        collector_on_while_storing.append(gc.isenabled())
        return store(*args, **kwargs)

    monkeypatch.setattr(receiver, "store", watching_store)
    assert gc.isenabled()
    assert client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs"),
                       headers=org.headers).status_code == 202
    assert collector_on_while_storing == [False]
    assert gc.isenabled()

    assert client.post("/v1/logs", data=b'{"resourceLogs": 7}',
                       headers=org.headers).status_code == 400
    assert gc.isenabled()
    payload = later(fixture_payload("bash-tool", "logs"), "logs", 10**9)
    with (app_client(config, POOL_SIZE=1, STATEMENT_TIMEOUT_MS=300) as impatient,
          sessions_row_locked(db, org.org.org_id)):
        assert_unavailable(impatient.post("/v1/logs", json=payload, headers=org.headers))
    assert collector_on_while_storing == [False, False]
    assert gc.isenabled()
