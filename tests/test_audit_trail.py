"""The audit trail: append-only for the app, hash-chained per org, verifiable, readable by admins."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from mojule.cli import cli
from tests.conftest import ingest_session, make_user


def run(env: dict, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), env=env, input=input)


@pytest.fixture
def admin(db, org):
    return make_user(db, org, "admin@example.com", "admin")


def read_content(client, org, admin, times: int) -> str:
    session_id = ingest_session(client, org, "bash-tool")
    for _ in range(times):
        assert client.get(f"/api/v1/sessions/{session_id}/content",
                          headers=admin.headers).status_code == 200
    return session_id


def test_app_role_cannot_update_delete_or_truncate_audit_rows(client, org, admin, app_database_url):
    read_content(client, org, admin, 1)
    with psycopg.connect(app_database_url, autocommit=True) as app_conn:
        app_conn.execute("SELECT set_config('mojule.org_id', %s, false)", (str(org.org.org_id),))
        for statement in ("UPDATE audit_log SET outcome = 'denied'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app_conn.execute(statement)


def test_even_the_owner_cannot_rewrite_audit_rows(client, db, org, admin):
    read_content(client, org, admin, 1)
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("UPDATE audit_log SET outcome = 'denied' WHERE org_id = %s", (org.org.org_id,))
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("DELETE FROM audit_log WHERE org_id = %s", (org.org.org_id,))


def test_verify_holds_on_untouched_chain(client, org, admin, cli_env):
    read_content(client, org, admin, 3)

    result = run(cli_env, "audit", "verify", "--org", org.org.slug)

    assert result.exit_code == 0, result.output
    assert "holds: 3 rows" in result.output


def test_a_deleted_orgs_chain_and_the_installations_can_be_verified_and_exported(
        client, org, admin, cli_env):
    # A deleted org's audit rows stay, as do the installation's (license, ingestion pause,
    # deletions): `--org SLUG` could name neither, so neither could be checked.
    read_content(client, org, admin, 2)
    org_id = org.org.org_id
    assert run(cli_env, "org", "delete", org.org.slug, "--yes").exit_code == 0

    installation = run(cli_env, "audit", "export", "--installation")
    deletion = [row for row in map(json.loads, installation.stdout.splitlines())
                if row["action"] == "org.delete" and row["target_id"] == org.org.slug]
    deleted_chain = run(cli_env, "audit", "verify", "--org-id", str(deleted_org_id(deletion)))
    installation_chain = run(cli_env, "audit", "verify", "--installation")
    both = run(cli_env, "audit", "verify", "--org", org.org.slug, "--installation")

    assert installation.exit_code == 0, installation.output
    assert deleted_org_id(deletion) == org_id
    assert deleted_chain.exit_code == 0, deleted_chain.output
    assert f"audit chain of org id {org_id} holds: 3 rows" in deleted_chain.output
    assert installation_chain.exit_code == 0, installation_chain.output
    assert "audit chain of the installation holds" in installation_chain.output
    assert both.exit_code == 2 and "name one audit chain" in both.output


def deleted_org_id(deletion_rows: list[dict]) -> int:
    (row,) = deletion_rows
    return row["details"]["org_id"]


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_verify_names_the_first_broken_row_after_a_superuser_edit(client, db, org, admin,
                                                                  cli_env, tamper):
    read_content(client, org, admin, 4)
    ids = [row[0] for row in db.execute(
        "SELECT audit_id FROM audit_log WHERE org_id = %s ORDER BY audit_id", (org.org.org_id,))]
    db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    try:
        if tamper == "edit":
            db.execute("UPDATE audit_log SET actor_id = 'someone-else' WHERE audit_id = %s", (ids[1],))
            broken = ids[1]
        else:
            db.execute("DELETE FROM audit_log WHERE audit_id = %s", (ids[1],))
            broken = ids[2]
    finally:
        db.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")

    result = run(cli_env, "audit", "verify", "--org", org.org.slug)

    assert result.exit_code == 1
    assert f"broken at row {broken}" in result.output


def test_audit_rows_hold_no_content_and_no_token(client, db, org, admin):
    read_content(client, org, admin, 1)
    dump = str(db.execute("SELECT * FROM audit_log WHERE org_id = %s", (org.org.org_id,)).fetchall())

    assert "RUNCMD" not in dump and "secret-answer" not in dump
    assert admin.token not in dump and org.token not in dump
    assert admin.token[4:16] not in dump


def test_audit_api_is_for_admins_with_filters_and_paging(client, db, org, admin):
    member = make_user(db, org, "member@example.com", "member")
    session_id = read_content(client, org, admin, 3)

    assert client.get("/api/v1/audit", headers=member.headers).status_code == 403
    page = client.get("/api/v1/audit?limit=2", headers=admin.headers).get_json()
    rest = client.get(f"/api/v1/audit?after={page['next_after']}",
                      headers=admin.headers).get_json()
    by_session = client.get(f"/api/v1/audit?session={session_id}&actor=admin@example.com",
                            headers=admin.headers).get_json()

    assert len(page["rows"]) == 2 and page["next_after"] == page["rows"][-1]["audit_id"]
    assert all(row["audit_id"] > page["next_after"] for row in rest["rows"])
    assert [row["action"] for row in by_session["rows"]] == ["content.read"] * 3
    assert client.get("/api/v1/audit?from=yesterday", headers=admin.headers).status_code == 400
    assert client.get("/api/v1/audit?from=2026-11-01", headers=admin.headers).status_code == 400
    assert client.get("/api/v1/audit?after=-1", headers=admin.headers).status_code == 400
    assert client.get("/api/v1/audit?limit=1001", headers=admin.headers).status_code == 400
    bad_order = client.get("/api/v1/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
                           headers=admin.headers)
    assert bad_order.status_code == 400 and "'to'" in bad_order.get_json()["message"]


def test_audit_export_writes_json_lines(client, org, admin, cli_env):
    import json

    read_content(client, org, admin, 2)

    result = run(cli_env, "audit", "export", "--org", org.org.slug)

    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["action"] for line in lines] == ["content.read", "content.read"]
    assert all(line["outcome"] == "allowed" for line in lines)


@pytest.mark.parametrize("args, option", [
    (["--org", "{slug}", "--from", "2027-01-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"],
     "--to"),
    (["--org-id", "99999999999999999999"], "--org-id")])
def test_audit_export_with_a_bad_window_or_id_fails_naming_the_option(org, cli_env, args,
                                                                       option):
    # Before, the window exported nothing with status 0, and the id was a traceback.
    result = run(cli_env, "audit", "export", *(arg.format(slug=org.org.slug) for arg in args))

    assert result.exit_code == 2 and option in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_audit_export_to_a_full_disk_fails_with_a_message(client, org, admin, cli_env):
    read_content(client, org, admin, 2)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "mojule"), "audit", "export", "--org",
             org.org.slug], check=False, env={**os.environ, **cli_env}, stdout=full,
            stderr=subprocess.PIPE, text=True, timeout=60)

    assert result.returncode == 1 and "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_changes_are_audited(db, org, cli_env):
    run(cli_env, "user", "create", "--org", org.org.slug, "--email", "x@example.com")
    run(cli_env, "token", "create", "--org", org.org.slug)
    run(cli_env, "org", "set", org.org.slug, "--retention-days", "30")

    actions = [row[0] for row in db.execute(
        "SELECT action FROM audit_log WHERE org_id = %s ORDER BY audit_id", (org.org.org_id,))]

    assert actions == ["user.create", "token.create", "org.update"]


def test_forged_forwarded_for_is_ignored_unless_from_a_trusted_proxy(client, db, org, admin,
                                                                     config):
    session_id = ingest_session(client, org, "bash-tool")
    url = f"/api/v1/sessions/{session_id}/content"
    client.get(url, headers={**admin.headers, "X-Forwarded-For": "203.0.113.9"},
               environ_base={"REMOTE_ADDR": "198.51.100.7"})

    rows = db.execute("SELECT source_ip FROM audit_log WHERE org_id = %s AND action = 'content.read'",
                      (org.org.org_id,)).fetchall()
    assert rows == [("198.51.100.7",)]


def test_forwarded_for_from_a_trusted_proxy_names_the_client(config, db, org):
    from mojule import create_app
    from mojule.config import parse_networks
    from mojule.db import close_pool

    config["TRUSTED_PROXIES"] = parse_networks("127.0.0.0/8")
    app = create_app(config)
    try:
        client = app.test_client()
        admin = make_user(db, org, "proxied@example.com", "admin")
        session_id = ingest_session(client, org, "bash-tool")
        client.get(f"/api/v1/sessions/{session_id}/content",
                   headers={**admin.headers, "X-Forwarded-For": "203.0.113.9, 127.0.0.2"},
                   environ_base={"REMOTE_ADDR": "127.0.0.1"})
    finally:
        close_pool(app)
    rows = db.execute("SELECT source_ip FROM audit_log WHERE org_id = %s AND action = 'content.read'",
                      (org.org.org_id,)).fetchall()
    assert rows == [("203.0.113.9",)]
