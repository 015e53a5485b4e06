"""Retention purge, org deletion and key rotation: content goes when it should, and only then."""
from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from click.testing import CliRunner

from mojule import keys, orgs, otlp, retention
from mojule.cli import cli
from mojule.crypto import (
    RecordKey,
    generate_master_key,
    load_master_key,
    unwrap_data_key,
    unwrap_record_key_any,
)
from mojule.db import org_transaction
from mojule.keyring import Keyring
from mojule.retention import PURGE_LOCK
from tests.conftest import fixture_bytes, ingest_session, make_org, make_user

SESSIONS = ("bash-tool", "failing-bash", "write-tool-resource-attrs")
AFTER_95_DAYS = "2027-03-01T12:00:00Z"      # the fixtures were recorded on 2026-11-26


def run(env: dict, *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


def counts(db, org_id: int) -> dict[str, int]:
    return {table: db.execute(f"SELECT count(*) FROM {table} WHERE org_id = %s", (org_id,)).fetchone()[0]
            for table in ("content_values", "log_events", "metric_points", "spans", "sessions",
                          "audit_log", "data_keys")}


def all_content_reads_back(client, admin, session_ids) -> bool:
    for session_id in session_ids:
        body = client.get(f"/api/v1/sessions/{session_id}/content", headers=admin.headers).get_json()
        if not body["items"] or any(item["tampered"] or item["purged"] for item in body["items"]):
            return False
        if not any(item["content"] for item in body["items"]):
            return False
    return True


def test_purge_past_one_orgs_window_removes_only_that_orgs_content(client, db, org, other_org,
                                                                   cli_env):
    orgs.set_org(db, other_org.org, retention_days=365)
    for test_org in (org, other_org):
        ingest_session(client, test_org, "bash-tool")
    before = {o.org.org_id: counts(db, o.org.org_id) for o in (org, other_org)}

    result = run(cli_env, "purge", "--allow-future-now", "--now", AFTER_95_DAYS)

    assert result.exit_code == 0, result.output
    assert f"{org.org.slug}: removed {before[org.org.org_id]['content_values']} content values" \
        in result.output
    after = counts(db, org.org.org_id)
    assert after["content_values"] == 0
    assert {k: v for k, v in after.items() if k not in ("content_values", "audit_log")} == \
        {k: v for k, v in before[org.org.org_id].items() if k not in ("content_values", "audit_log")}
    assert after["audit_log"] == before[org.org.org_id]["audit_log"] + 1
    other = before[other_org.org.org_id]
    assert counts(db, other_org.org.org_id) == {**other, "audit_log": other["audit_log"] + 1}
    assert purge_receipts(db, other_org.org.org_id) == [(0, 0, 365)]

    again = run(cli_env, "purge", "--allow-future-now", "--now", AFTER_95_DAYS)
    assert f"{org.org.slug}: removed 0 content values" in again.output
    assert counts(db, org.org.org_id)["content_values"] == 0
    removed = before[org.org.org_id]["content_values"]
    assert purge_receipts(db, org.org.org_id) == [(removed, 0, 90), (0, 0, 90)]


def purge_receipts(db, org_id: int) -> list[tuple]:
    """(removed, held, retention_days) of each content.purge audit row, oldest first."""
    return [(details["removed"], details["held"], details["retention_days"])
            for (details,) in db.execute(
                "SELECT details FROM audit_log WHERE org_id = %s AND action = 'content.purge'"
                " ORDER BY audit_id", (org_id,))]


def test_purge_refuses_a_future_now_unless_told_so(client, db, org, cli_env):
    # A mistyped year (--now 8999-12-31) would delete all content, today's included.
    ingest_session(client, org, "bash-tool")
    before = counts(db, org.org.org_id)

    result = run(cli_env, "purge", "--now", AFTER_95_DAYS)

    assert result.exit_code == 2 and "is in the future" in result.output
    assert counts(db, org.org.org_id) == before


def test_purge_dry_run_counts_and_removes_nothing(client, db, org, cli_env):
    ingest_session(client, org, "bash-tool")
    before = counts(db, org.org.org_id)

    result = run(cli_env, "purge", "--dry-run", "--now", AFTER_95_DAYS)

    assert f"{org.org.slug}: would remove {before['content_values']} content values" in result.output
    assert counts(db, org.org.org_id) == before


def test_purge_inside_the_window_removes_nothing(client, db, org, cli_env):
    ingest_session(client, org, "bash-tool")
    before = counts(db, org.org.org_id)

    run(cli_env, "purge", "--allow-future-now", "--now", "2027-02-20T12:00:00Z")       # 86 days later

    assert counts(db, org.org.org_id) == {**before, "audit_log": before["audit_log"] + 1}
    assert purge_receipts(db, org.org.org_id) == [(0, 0, 90)]    # the run's receipt


def test_second_purge_started_while_one_runs_exits_cleanly(client, db, org, database_url, cli_env):
    ingest_session(client, org, "bash-tool")
    before = counts(db, org.org.org_id)
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (PURGE_LOCK,))
        result = run(cli_env, "purge", "--allow-future-now", "--now", AFTER_95_DAYS)

    assert result.exit_code == 0
    assert "already running" in result.output
    assert counts(db, org.org.org_id) == before


def test_purged_content_shows_as_purged_not_as_missing_rows(client, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    session_id = ingest_session(client, org, "bash-tool")
    from datetime import datetime
    retention.purge_expired_content(db, datetime(2027, 3, 1, tzinfo=UTC))

    body = client.get(f"/api/v1/sessions/{session_id}/content", headers=admin.headers).get_json()

    assert all(not item["content"] for item in body["items"])
    assert any("prompt" in item["purged"] for item in body["items"])


def test_org_delete_destroys_keys_first_then_rows_and_keeps_audit(client, db, org, other_org,
                                                                 cli_env):
    for test_org in (org, other_org):
        ingest_session(client, test_org, "bash-tool")
    other_before = counts(db, other_org.org.org_id)
    assert all(db.execute(f"SELECT count(*) FROM {table} WHERE org_id = %s",
                          (org.org.org_id,)).fetchone()[0]
               for table in ("usage_rollup", "session_usage"))

    result = run(cli_env, "org", "delete", org.org.slug, "--yes")

    assert result.exit_code == 0, result.output
    after = counts(db, org.org.org_id)
    assert {k: v for k, v in after.items() if k != "audit_log"} == dict.fromkeys(
        ["content_values", "log_events", "metric_points", "spans", "sessions", "data_keys"], 0)
    assert after["audit_log"] >= 1
    assert db.execute("SELECT count(*) FROM orgs WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0
    # Nothing of the org is left anywhere else either (the usage rollups included).
    tables = [row[0] for row in db.execute(
        "SELECT c.table_name FROM information_schema.columns AS c"
        "  JOIN pg_class AS t ON t.relname = c.table_name AND NOT t.relispartition"
        " WHERE c.table_schema = 'public' AND c.column_name = 'org_id'"
        "   AND t.relkind IN ('r', 'p') AND c.table_name NOT IN ('audit_log', 'orgs')")]
    assert {"usage_rollup", "session_usage", "sessions"} <= set(tables)
    left = {table: db.execute(f"SELECT count(*) FROM {table} WHERE org_id = %s",
                              (org.org.org_id,)).fetchone()[0] for table in tables}
    assert left == dict.fromkeys(tables, 0)
    assert counts(db, other_org.org.org_id) == other_before


def test_master_key_rotation_rewraps_keys_and_all_content_reads_back(config, db, database_url,
                                                                     master_key, app_database_url):
    from mojule import create_app
    from mojule.db import close_pool

    test_org = make_org(db)
    admin = make_user(db, test_org, "admin@example.com", "admin")
    app = create_app(config)
    client = app.test_client()
    session_ids = [ingest_session(client, test_org, name) for name in SESSIONS]
    close_pool(app)
    content_before = db.execute("SELECT ciphertext FROM content_values WHERE org_id = %s ORDER BY 1",
                                (test_org.org.org_id,)).fetchall()
    new_key = generate_master_key()
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": new_key,
           "MOJULE_MASTER_KEY_PREVIOUS": master_key}

    first = run(env, "keys", "rotate-master")
    second = run(env, "keys", "rotate-master")

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "re-wrapped 0 data keys" in second.output
    assert db.execute("SELECT ciphertext FROM content_values WHERE org_id = %s ORDER BY 1",
                      (test_org.org.org_id,)).fetchall() == content_before
    new_app = create_app({**config, "MASTER_KEY": new_key, "MASTER_KEY_PREVIOUS": ""})
    try:
        assert all_content_reads_back(new_app.test_client(), admin, session_ids)
        rows_before = counts(db, test_org.org.org_id)
        # Record ids are keyed by the org's record-id key, which the rotation re-wrapped
        # unchanged: the same exports sent again are recognised, and store nothing.
        for name in SESSIONS:
            ingest_session(new_app.test_client(), test_org, name)
    finally:
        close_pool(new_app)
    assert counts(db, test_org.org.org_id) == rows_before
    old_only = run({"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key},
                   "keys", "rotate-master")
    assert old_only.exit_code != 0


def test_org_key_rotation_under_a_wrong_master_key_changes_nothing(client, db, org, cli_env,
                                                                     master_key):
    # A key made under a mistyped master key would stop the org's ingest (503) and leave a
    # key no later master-key rotation can open.
    ingest_session(client, org, "bash-tool")
    before = key_states(db, org.org.org_id)
    wrong = {**cli_env, "MOJULE_MASTER_KEY": generate_master_key()}

    result = run(wrong, "keys", "rotate", "--org", org.org.slug)

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"wrapped with master key {load_master_key(master_key).key_id}" in result.output
    assert key_states(db, org.org.org_id) == before
    assert run(cli_env, "keys", "rotate", "--org", org.org.slug).exit_code == 0


def test_org_key_rotation_uses_a_new_key_and_old_content_still_reads(client, app, db, org, cli_env):
    admin = make_user(db, org, "admin@example.com", "admin")
    first = ingest_session(client, org, "bash-tool")

    result = run(cli_env, "keys", "rotate", "--org", org.org.slug)
    app.extensions["mojule.keyring"].forget()
    second = ingest_session(client, org, "failing-bash")

    assert result.exit_code == 0, result.output
    dek_ids = dict(db.execute(
        "SELECT session_id, max(dek_id) FROM content_values WHERE org_id = %s GROUP BY 1",
        (org.org.org_id,)).fetchall())
    assert dek_ids[first] == 1 and dek_ids[second] == 2
    assert all_content_reads_back(client, admin, [first, second])
    rows_before = counts(db, org.org.org_id)
    ingest_session(client, org, "bash-tool")        # sent again after the rotation
    assert counts(db, org.org.org_id) == rows_before


def shifted_bytes(session: str, signal: str, by: timedelta) -> bytes:
    """A recorded export with every timestamp moved by ``by``."""
    shift = int(by.total_seconds()) * 10**9

    def move(item):
        if isinstance(item, dict):
            return {key: str(int(value) + shift) if key.endswith("UnixNano") and value
                    and str(value) != "0" else move(value) for key, value in item.items()}
        if isinstance(item, list):
            return [move(value) for value in item]
        return item
    return json.dumps(move(json.loads(fixture_bytes(session, signal)))).encode()


def age_keys(db, org_id: int, days: int, retired: bool = False) -> None:
    """Make the org's data keys look ``days`` old (and retired that long ago)."""
    db.execute("UPDATE data_keys SET created_at = now() - make_interval(days => %s),"
               " retired_at = CASE WHEN %s THEN now() - make_interval(days => %s)"
               " ELSE retired_at END WHERE org_id = %s", (days, retired, days, org_id))


def test_a_data_key_serves_its_period_then_a_new_one_takes_over(client, app, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    first = ingest_session(client, org, "bash-tool")
    age_keys(db, org.org.org_id, 31)
    app.extensions["mojule.keyring"].forget()

    second = ingest_session(client, org, "failing-bash")

    keys = db.execute("SELECT dek_id, retired_at IS NOT NULL FROM data_keys WHERE org_id = %s"
                      " ORDER BY dek_id", (org.org.org_id,)).fetchall()
    assert keys == [(1, True), (2, False)]
    dek_ids = dict(db.execute(
        "SELECT session_id, max(dek_id) FROM content_values WHERE org_id = %s GROUP BY 1",
        (org.org.org_id,)).fetchall())
    assert dek_ids == {first: 1, second: 2}
    assert all_content_reads_back(client, admin, [first, second])


def test_purge_destroys_the_key_of_a_period_whose_content_is_all_gone(client, app, db, org,
                                                                      cli_env):
    # Period 1 (a key made 120 days ago) encrypted a session of 100 days ago; period 2
    # encrypts today's. The purge removes the old content, then its key; today's content
    # still reads, and the old exports sent again are still recognised: record ids never
    # depended on a data key that can go.
    admin = make_user(db, org, "admin@example.com", "admin")
    long_ago = timedelta(days=-100)
    for signal in ("logs", "metrics", "traces"):
        assert client.post(f"/v1/{signal}", headers=org.headers,
                           data=shifted_bytes("bash-tool", signal, long_ago)).status_code == 202
    age_keys(db, org.org.org_id, 120)
    app.extensions["mojule.keyring"].forget()
    recent = ingest_session(client, org, "failing-bash")
    age_keys_retired = db.execute(
        "UPDATE data_keys SET retired_at = now() - interval '95 days'"
        " WHERE org_id = %s AND dek_id = 1 RETURNING dek_id", (org.org.org_id,)).fetchall()
    assert age_keys_retired == [(1,)]
    now = datetime.now(UTC).isoformat()

    result = run(cli_env, "purge", "--allow-future-now", "--now", now)

    assert result.exit_code == 0, result.output
    assert f"{org.org.slug}: destroyed data keys 1, whose content is all purged" in result.output
    assert db.execute("SELECT dek_id FROM data_keys WHERE org_id = %s",
                      (org.org.org_id,)).fetchall() == [(2,)]
    assert db.execute("SELECT DISTINCT dek_id FROM content_values WHERE org_id = %s",
                      (org.org.org_id,)).fetchall() == [(2,)]
    (details,) = db.execute("SELECT details FROM audit_log WHERE org_id = %s"
                            " AND action = 'content.purge'", (org.org.org_id,)).fetchone()
    assert details["shredded_data_keys"] == [1] and details["removed"] > 0
    assert all_content_reads_back(client, admin, [recent])
    rows_before = counts(db, org.org.org_id)
    for signal in ("logs", "metrics", "traces"):
        again = client.post(f"/v1/{signal}", headers=org.headers,
                            data=shifted_bytes("bash-tool", signal, long_ago))
        answer = again.get_json()
        assert again.status_code == 202
        assert answer["duplicates"] == sum(answer["counts"].values()) > 0
    assert counts(db, org.org.org_id) == rows_before
    assert "destroyed" not in run(cli_env, "purge", "--allow-future-now", "--now", now).output


def test_a_retired_key_that_still_encrypts_kept_content_is_not_destroyed(client, db, org,
                                                                         cli_env):
    ingest_session(client, org, "bash-tool")          # today's content, under key 1
    age_keys(db, org.org.org_id, 200, retired=True)   # a key retired long ago, by its dates

    result = run(cli_env, "purge", "--allow-future-now", "--now", datetime.now(UTC).isoformat())

    assert result.exit_code == 0 and "destroyed" not in result.output
    assert db.execute("SELECT dek_id FROM data_keys WHERE org_id = %s",
                      (org.org.org_id,)).fetchall() == [(1,)]


def test_an_org_from_before_record_keys_keeps_its_record_ids(client, app, db, org,
                                                             master_key):
    # Before migration 0011 stored ids were blake2b(identity, key=HKDF(first data key)).
    # An org of then has a data key and no record key: it gets the key that data key gave,
    # so its stored ids stay what they were and nothing it sent before is stored again.
    keyring = app.extensions["mojule.keyring"]
    with org_transaction(db, org.org.org_id):
        keyring.current_cipher(db, org.org.org_id)          # the first data key, alone
    keyring.forget()
    (wrapped,) = db.execute("SELECT wrapped_key FROM data_keys WHERE org_id = %s",
                            (org.org.org_id,)).fetchone()
    old_key = RecordKey.from_first_data_key(
        unwrap_data_key(load_master_key(master_key), wrapped, org.org.org_id, 1))
    payload = json.loads(fixture_bytes("bash-tool", "logs"))
    as_before = {hashlib.blake2b(record.identity, digest_size=16, key=old_key).digest()
                 for record in otlp.iter_logs(payload)}

    ingest_session(client, org, "bash-tool", signals=("logs",))

    stored = {bytes(row[0]) for row in db.execute(
        "SELECT record_id FROM log_events WHERE org_id = %s", (org.org.org_id,))}
    assert stored == as_before


def test_a_new_orgs_record_key_is_random_not_its_first_data_key(client, db, org, master_key):
    ingest_session(client, org, "bash-tool")
    master = load_master_key(master_key)
    (wrapped_record,) = db.execute("SELECT wrapped_key FROM record_keys WHERE org_id = %s",
                                   (org.org.org_id,)).fetchone()
    (wrapped_dek,) = db.execute("SELECT wrapped_key FROM data_keys WHERE org_id = %s"
                                " AND dek_id = 1", (org.org.org_id,)).fetchone()
    record, _ = unwrap_record_key_any([master], wrapped_record, org.org.org_id)
    dek = unwrap_data_key(master, wrapped_dek, org.org.org_id, 1)
    assert record not in (dek, RecordKey.from_first_data_key(dek))


def test_purge_keys_an_org_from_before_record_keys_before_it_destroys_its_first_key(
        client, app, db, org, cli_env):
    # An org of the previous release: ids keyed from data key 1, no record key, and key 1
    # retired long ago by a `keys rotate`. The purge gives it its record key (from key 1)
    # before it destroys key 1, so what it sent before is still recognised.
    keyring = app.extensions["mojule.keyring"]
    org_id = org.org.org_id
    with org_transaction(db, org_id):
        keyring.current_cipher(db, org_id)
    keyring.forget()
    ingest_session(client, org, "bash-tool", signals=("logs",))
    db.execute("DELETE FROM record_keys WHERE org_id = %s", (org_id,))
    keyring.forget()
    assert run(cli_env, "keys", "rotate", "--org", org.org.slug).exit_code == 0
    db.execute("UPDATE data_keys SET retired_at = now() - interval '200 days'"
               " WHERE org_id = %s AND dek_id = 1", (org_id,))
    rows_before = counts(db, org_id)["log_events"]

    result = run(cli_env, "purge", "--allow-future-now", "--now", "2027-06-01T00:00:00Z")

    assert "destroyed data keys 1," in result.output, result.output
    keyring.forget()
    ingest_session(client, org, "bash-tool", signals=("logs",))
    assert counts(db, org_id)["log_events"] == rows_before


def key_states(db, org_id: int) -> list[tuple[int, bool]]:
    return db.execute("SELECT dek_id, retired_at IS NOT NULL FROM data_keys WHERE org_id = %s"
                      " ORDER BY dek_id", (org_id,)).fetchall()


def in_org_transaction(url: str, org_id: int, work) -> threading.Thread:
    """Run ``work(conn)`` in an org transaction of its own connection, on a thread."""
    def run_it():
        with psycopg.connect(url, autocommit=True) as conn, org_transaction(conn, org_id):
            work(conn)
    thread = threading.Thread(target=run_it)
    thread.start()
    return thread


@pytest.mark.parametrize("other", ["worker", "keys rotate"])
def test_key_changes_of_an_org_run_one_after_the_other(db, org, database_url, master_key,
                                                       other):
    # A worker ends the key's period while another worker, or `mojule keys rotate`, changes
    # the org's keys too: one waits for the other, and one key is left current.
    master = load_master_key(master_key)
    org_id = org.org.org_id
    with org_transaction(db, org_id):
        Keyring([master]).current_cipher(db, org_id)
    db.execute("UPDATE data_keys SET created_at = now() - interval '40 days'"
               " WHERE org_id = %s", (org_id,))
    used = []
    with psycopg.connect(database_url, autocommit=True) as first, \
            org_transaction(first, org_id):
        used.append(Keyring([master]).current_cipher(first, org_id).dek_id)
        if other == "worker":
            thread = in_org_transaction(database_url, org_id, lambda conn: used.append(
                Keyring([master]).current_cipher(conn, org_id).dek_id))
        else:
            thread = in_org_transaction(database_url, org_id, lambda conn: used.append(
                keys.rotate_org_key(conn, [master], org_id, "ops")))
        thread.join(0.5)
        assert thread.is_alive()                 # waiting for the first to commit
    thread.join(10)

    states = key_states(db, org_id)
    assert [retired for _, retired in states].count(False) == 1, states
    assert used == ([2, 2] if other == "worker" else [2, 3])


def test_purge_still_removes_content_when_no_master_key_opens_an_orgs_keys(db, org, cli_env):
    # An org from before record keys whose data key was wrapped by a master key this
    # installation no longer has: its keys wait, everything else goes on.
    other_master = load_master_key(generate_master_key())
    with org_transaction(db, org.org.org_id):
        Keyring([other_master]).current_cipher(db, org.org.org_id)
    db.execute("UPDATE data_keys SET retired_at = now() - interval '200 days'"
               " WHERE org_id = %s", (org.org.org_id,))

    try:
        result = run(cli_env, "purge", "--allow-future-now", "--now",
                     datetime.now(UTC).isoformat())
        states = key_states(db, org.org.org_id)
    finally:
        # Left in the shared database, this org would fail every later test's purge.
        orgs.delete_org(db, org.org)

    # Content went; the exit status tells cron that this org's keys need a master key.
    assert result.exit_code == 1, result.output
    assert f"{org.org.slug}: data keys kept:" in result.output
    assert f"need attention, above: {org.org.slug}" in result.output
    assert states == [(1, True)]
