"""``mojule init-db``, ``mojule org create`` and ``mojule token ...``: quiet on success,
clear and non-zero on failure, the token printed once, alone on the last line.
"""
from __future__ import annotations

import base64
import importlib.metadata
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from click.testing import CliRunner

from mojule import orgs, schema, tokens
from mojule.cli import cli
from mojule.db import connect, connection_url
from tests.conftest import fixture_bytes
from tests.upgrades import install_release_before

TOKEN_LINE = re.compile(r"^mtk_[0-9A-Za-z]{38,}$")


def run(env: dict, *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


def new_slug() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}"


def created_token(env: dict, slug: str, *options: str) -> str:
    result = run(env, "token", "create", "--org", slug, *options)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[-1]


def test_org_create_stores_the_org_with_its_name_and_content_window(db, cli_env):
    slug = new_slug()

    result = run(cli_env, "org", "create", slug, "--name", "Acme Corp", "--retention-days", "30")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    created = orgs.find_org(db, slug)
    assert (created.name, created.retention_days) == ("Acme Corp", 30)


def test_org_create_defaults_to_the_slug_and_90_days(db, cli_env):
    slug = new_slug()

    assert run(cli_env, "org", "create", slug).exit_code == 0

    created = orgs.find_org(db, slug)
    assert (created.name, created.retention_days) == (slug, 90)


@pytest.mark.parametrize("slug", ["Upper", "has space", "-leading-dash", "a" * 64, "under_score",
                                  "", "newline\n"])
def test_org_create_with_a_bad_slug_fails_clearly(db, cli_env, slug):
    result = run(cli_env, "org", "create", slug)

    assert result.exit_code != 0
    assert "slug" in result.output.lower()
    assert db.execute("SELECT count(*) FROM orgs WHERE slug = %s", (slug,)).fetchone()[0] == 0


def test_org_create_twice_fails_clearly(cli_env):
    slug = new_slug()
    assert run(cli_env, "org", "create", slug).exit_code == 0

    result = run(cli_env, "org", "create", slug)

    assert result.exit_code != 0
    assert "exists" in result.output


def test_token_create_prints_the_token_alone_on_the_last_stdout_line(db, cli_env, org):
    result = run(cli_env, "token", "create", "--org", org.org.slug, "--name", "laptop")

    assert result.exit_code == 0, result.output
    token = result.stdout.splitlines()[-1]
    assert TOKEN_LINE.match(token)
    assert tokens.is_well_formed(token, tokens.INGEST_PREFIX)
    assert token not in result.stderr
    resolved = orgs.resolve_ingest_token(db, token)
    assert resolved.org_id == org.org.org_id and not resolved.revoked


def test_created_token_is_accepted_by_the_receiver(client, cli_env, org):
    token = created_token(cli_env, org.org.slug)

    response = client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs"), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    assert response.status_code == 202


def test_token_list_shows_prefixes_names_and_revocations_never_tokens(cli_env, org):
    token = created_token(cli_env, org.org.slug, "--name", "ci-runner")
    run(cli_env, "token", "revoke", "--org", org.org.slug, token[:12])

    result = run(cli_env, "token", "list", "--org", org.org.slug)

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3                                  # header, the fixture's, ours
    assert org.token[:12] in result.stdout and token[:12] in result.stdout
    assert org.token not in result.stdout and token not in result.stdout
    ours = next(line for line in lines if token[:12] in line)
    assert "ci-runner" in ours
    # revoked at, expires (never), state, name
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+-\s+revoked\s+ci-runner$", ours)


@pytest.mark.parametrize("by", ["id", "prefix"])
def test_token_revoke_by_id_or_prefix_makes_the_receiver_refuse_it(client, db, cli_env, org, by):
    token = created_token(cli_env, org.org.slug)
    token_id = orgs.resolve_ingest_token(db, token).token_id
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert client.post("/v1/logs", data=b"{}", headers=headers).status_code == 202

    result = run(cli_env, "token", "revoke", "--org", org.org.slug,
                 str(token_id) if by == "id" else token[:12])

    assert result.exit_code == 0, result.output
    assert token not in result.output
    assert client.post("/v1/logs", data=b"{}", headers=headers).status_code == 401
    assert client.post("/v1/logs", data=b"{}", headers=org.headers).status_code == 202


def test_revoking_a_token_twice_changes_nothing_and_audits_once(db, cli_env, org):
    def revocations():
        return db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s"
                          " AND action = 'token.revoke'", (org.org.org_id,)).fetchone()[0]

    first = run(cli_env, "token", "revoke", "--org", org.org.slug, org.token[:12])
    revoked_at = orgs.list_ingest_tokens(db, org.org)[0].revoked_at
    second = run(cli_env, "token", "revoke", "--org", org.org.slug, org.token[:12])

    assert first.exit_code == 0 and "revoked token" in first.output
    assert second.exit_code == 0, second.output
    assert "revoked already" in second.output and "nothing changed" in second.output
    assert orgs.list_ingest_tokens(db, org.org)[0].revoked_at == revoked_at
    assert revocations() == 1


@pytest.mark.parametrize("stdout", ["full", "closed"])
@pytest.mark.parametrize("command", [("token", "create"), ("token", "rotate", "{prefix}")])
def test_a_token_nobody_could_see_is_not_made(db, cli_env, org, stdout, command):
    # Printed to a full disk, or to a closed stdout, a new token was stored (and, rotated,
    # had its old one expiring) though nobody could ever have read it.
    before = db.execute("SELECT token_id, expires_at FROM ingest_tokens WHERE org_id = %s"
                        " ORDER BY 1", (org.org.org_id,)).fetchall()
    audited = db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                         (org.org.org_id,)).fetchone()[0]
    args = [str(Path(sys.executable).parent / "mojule"), *command[:2], "--org", org.org.slug,
            *(part.format(prefix=org.token[:12]) for part in command[2:])]
    with open("/dev/full", "w") as full:
        result = subprocess.run(args, check=False, env={**os.environ, **cli_env}, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=60,
                                preexec_fn=(lambda: os.close(1)) if stdout == "closed" else None)

    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "was not made" in result.stderr
    assert db.execute("SELECT token_id, expires_at FROM ingest_tokens WHERE org_id = %s"
                      " ORDER BY 1", (org.org.org_id,)).fetchall() == before
    assert db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == audited


def test_token_revoke_of_an_unknown_token_fails_clearly(db, cli_env, org, other_org):
    # "²" and "١" are digits to str.isdigit, and int("١") is 1: neither is token 1.
    for key in ("mtk_00000000", "987654321", other_org.token[:12], "²", "\u0661"):
        result = run(cli_env, "token", "revoke", "--org", org.org.slug, key)
        assert result.exit_code == 1 and result.exception is None or \
            isinstance(result.exception, SystemExit), result.output
        assert key in result.output
    assert db.execute("SELECT count(*) FROM ingest_tokens WHERE revoked_at IS NOT NULL"
                      " AND org_id = %s", (org.org.org_id,)).fetchone()[0] == 0


@pytest.mark.parametrize("command", [("token", "create"), ("token", "list"),
                                     ("token", "revoke", "1")])
def test_token_commands_for_an_unknown_org_fail_clearly(cli_env, command):
    result = run(cli_env, *command[:2], "--org", "no-such-org", *command[2:])

    assert result.exit_code != 0
    assert "no org with slug 'no-such-org'" in result.output


@pytest.mark.parametrize("role", ["", "Upper Case", "1st", "x;drop"])
def test_init_db_refuses_an_app_role_name_it_would_have_to_quote(cli_env, role):
    result = run(cli_env, "init-db", "--app-role", role)

    assert result.exit_code == 2 and "--app-role" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_init_db_twice_applies_everything_once_then_nothing(fresh_database_url, master_key):
    env = {"MOJULE_DATABASE_URL": fresh_database_url, "MOJULE_MASTER_KEY": master_key}

    first = run(env, "init-db")
    with connect(fresh_database_url) as conn:
        recorded = conn.execute("SELECT version, applied_at FROM schema_migrations"
                                " ORDER BY version").fetchall()
    second = run(env, "init-db")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "applied migration 0001" in first.stderr
    assert "applied migration" not in second.stderr
    assert "schema is up to date" in second.stderr
    with connect(fresh_database_url) as conn:
        assert conn.execute("SELECT version, applied_at FROM schema_migrations"
                            " ORDER BY version").fetchall() == recorded


def test_a_first_init_db_needs_only_the_owners_url_and_prints_the_apps(fresh_database_url,
                                                                        master_key):
    first_install = {"MOJULE_OWNER_DATABASE_URL": fresh_database_url,
                     "MOJULE_DATABASE_URL": None, "MOJULE_MASTER_KEY": master_key}

    # A role of its own: roles are the cluster's, and the suite's app role has a password.
    role = f"mojule_app_{uuid.uuid4().hex[:8]}"

    neither = run({**first_install, "MOJULE_OWNER_DATABASE_URL": None}, "init-db")
    first = run(first_install, "init-db", "--app-role", role)

    assert neither.exit_code == 1 and "set MOJULE_OWNER_DATABASE_URL" in neither.output
    assert first.exit_code == 0, first.output
    app_url = first.stdout.strip().splitlines()[-1].removeprefix("MOJULE_DATABASE_URL=")
    with connect(app_url.strip("'")) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == role
    with connect(fresh_database_url) as conn:
        assert schema.pending_migrations(conn) == []
    # Any other command still needs the server's own URL.
    listed = run(first_install, "org", "list")
    assert listed.exit_code == 1 and "MOJULE_DATABASE_URL is not set" in listed.output


def test_version_names_the_installed_release(cli_env):
    result = run(cli_env, "--version")

    assert result.exit_code == 0
    assert result.output.strip() == f"mojule {importlib.metadata.version('mojule')}"


@pytest.mark.parametrize("master_key_value, problem", [
    (None, "is not set"),
    ("", "is not set"),
    ("not base64!", "is not valid base64"),
    (base64.b64encode(bytes(16)).decode(), "decodes to 16 bytes, not 32"),
])
def test_cli_without_a_valid_master_key_fails_naming_the_variable(app_database_url, org,
                                                                  master_key_value, problem):
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key_value}

    for command in (("init-db",), ("org", "create", new_slug()),
                    ("token", "list", "--org", org.org.slug)):
        result = run(env, *command)
        assert result.exit_code != 0
        assert "MOJULE_MASTER_KEY" in result.output
        assert problem in result.output


def test_cli_without_a_database_url_fails_naming_the_variable(master_key):
    result = run({"MOJULE_DATABASE_URL": None, "MOJULE_MASTER_KEY": master_key},
                 "org", "create", new_slug())

    assert result.exit_code != 0
    assert "MOJULE_DATABASE_URL" in result.output


def test_cli_with_an_unreachable_database_fails_naming_the_variable(master_key):
    env = {"MOJULE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x?connect_timeout=1",
           "MOJULE_MASTER_KEY": master_key}

    result = run(env, "org", "create", new_slug())

    assert result.exit_code != 0
    assert "MOJULE_DATABASE_URL" in result.output
    assert "Traceback" not in result.output


def ingest_status(client, token: str) -> int:
    return client.post("/v1/logs", data=b"{}", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"}).status_code


def test_a_token_created_to_expire_works_until_then_and_is_listed_so(client, db, cli_env, org):
    token = created_token(cli_env, org.org.slug, "--name", "pilot", "--expires-in", "30d")
    line = next(line for line in run(cli_env, "token", "list", "--org", org.org.slug)
                .stdout.splitlines() if token[:12] in line)
    expires = datetime.strptime(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line)[-1],
                                "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)

    assert ingest_status(client, token) == 202
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert re.search(r"\sactive\s+pilot$", line)

    db.execute("UPDATE ingest_tokens SET expires_at = now() WHERE token_prefix = %s",
               (token[:12],))
    assert ingest_status(client, token) == 401
    expired = run(cli_env, "token", "list", "--org", org.org.slug).stdout
    assert re.search(r"\sexpired\s+pilot$", expired, re.MULTILINE)


@pytest.mark.parametrize("overlap", ["0s", "2h"])
def test_rotating_a_token_gives_a_new_one_and_ends_the_old_after_the_overlap(
        client, db, cli_env, org, overlap):
    result = run(cli_env, "token", "rotate", "--org", org.org.slug, org.token[:12],
                 "--overlap", overlap)

    assert result.exit_code == 0, result.output
    new = result.stdout.splitlines()[-1]
    assert TOKEN_LINE.match(new) and new != org.token
    assert ingest_status(client, new) == 202
    assert ingest_status(client, org.token) == (401 if overlap == "0s" else 202)
    (old,) = [item for item in orgs.list_ingest_tokens(db, org.org)
              if item.token_prefix == org.token[:12]]
    (replacement,) = [item for item in orgs.list_ingest_tokens(db, org.org)
                      if item.token_prefix == new[:12]]
    assert replacement.name == old.name and replacement.expires_at is None
    due = datetime.now(UTC) + (timedelta(hours=2) if overlap == "2h" else timedelta())
    assert abs(old.expires_at - due) < timedelta(minutes=1)
    assert db.execute("SELECT action, target_id, details->>'new_token' FROM audit_log"
                      " WHERE org_id = %s ORDER BY audit_id DESC LIMIT 1",
                      (org.org.org_id,)).fetchone() == ("token.rotate", str(old.token_id),
                                                        new[:12])


def test_rotating_never_moves_an_expiry_later_nor_revives_a_revoked_token(db, cli_env, org):
    soon = created_token(cli_env, org.org.slug, "--expires-in", "1h")
    before = next(item.expires_at for item in orgs.list_ingest_tokens(db, org.org)
                  if item.token_prefix == soon[:12])
    assert run(cli_env, "token", "rotate", "--org", org.org.slug, soon[:12],
               "--overlap", "7d").exit_code == 0
    after = next(item.expires_at for item in orgs.list_ingest_tokens(db, org.org)
                 if item.token_prefix == soon[:12])
    assert after == before

    run(cli_env, "token", "revoke", "--org", org.org.slug, org.token[:12])
    tokens_before = len(orgs.list_ingest_tokens(db, org.org))
    refused = run(cli_env, "token", "rotate", "--org", org.org.slug, org.token[:12])
    assert refused.exit_code == 1 and "revoked" in refused.output
    assert len(orgs.list_ingest_tokens(db, org.org)) == tokens_before


def test_a_rotated_token_is_not_rotated_again_its_replacement_is(db, cli_env, org):
    pilot = created_token(cli_env, org.org.slug, "--name", "pilot", "--expires-in", "30d")
    first = run(cli_env, "token", "rotate", "--org", org.org.slug, pilot[:12], "--overlap", "1h")
    replacement = first.stdout.splitlines()[-1]
    tokens_before = len(orgs.list_ingest_tokens(db, org.org))

    again = run(cli_env, "token", "rotate", "--org", org.org.slug, pilot[:12])

    assert again.exit_code == 1 and "rotated already" in again.output
    assert replacement[:12] in again.output
    assert len(orgs.list_ingest_tokens(db, org.org)) == tokens_before
    listed = run(cli_env, "token", "list", "--org", org.org.slug).stdout
    (pilot_line,) = [line for line in listed.splitlines() if pilot[:12] in line]
    assert " rotated " in pilot_line
    # The replacement rotates with the lifetime the first token was made with.
    onward = run(cli_env, "token", "rotate", "--org", org.org.slug, replacement[:12])
    assert onward.exit_code == 0, onward.output
    (third,) = [item for item in orgs.list_ingest_tokens(db, org.org)
                if item.token_prefix == onward.stdout.splitlines()[-1][:12]]
    assert abs(third.expires_at - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)


def test_two_rotations_of_one_token_at_once_make_one_replacement(db, database_url, org):
    pilot = orgs.create_ingest_token(db, org.org, "pilot", datetime.now(UTC) + timedelta(days=30))
    overlap_end = datetime.now(UTC) + timedelta(hours=1)
    rotated, refused = [], []

    def rotate():
        with connect(database_url) as conn:
            try:
                rotated.append(orgs.rotate_ingest_token(conn, org.org, pilot[:12], overlap_end))
            except orgs.TokenReplaced as exc:
                refused.append(exc)

    # A third transaction holds the token's row, so that both rotations start before
    # either has done anything.
    with db.transaction(), connect(database_url) as watcher:
        db.execute("SELECT 1 FROM ingest_tokens WHERE token_prefix = %s FOR UPDATE",
                   (pilot[:12],))
        rotations = [threading.Thread(target=rotate) for _ in range(2)]
        for thread in rotations:
            thread.start()
        deadline = time.monotonic() + 20
        # The first waits for the row, the second for its turn (a tuple lock).
        while watcher.execute("SELECT count(*) FROM pg_stat_activity"
                              " WHERE wait_event_type = 'Lock'").fetchone()[0] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    for thread in rotations:
        thread.join(20)

    assert len(rotated) == 1 and len(refused) == 1
    named = [item for item in orgs.list_ingest_tokens(db, org.org) if item.name == "pilot"]
    assert sorted(item.state(datetime.now(UTC)) for item in named) == ["active", "rotated"]


def test_a_rotated_token_whose_replacement_is_revoked_says_to_create_one(db, cli_env, org):
    first = run(cli_env, "token", "rotate", "--org", org.org.slug, org.token[:12])
    replacement = first.stdout.splitlines()[-1]
    run(cli_env, "token", "revoke", "--org", org.org.slug, replacement[:12])

    again = run(cli_env, "token", "rotate", "--org", org.org.slug, org.token[:12])

    assert again.exit_code == 1
    assert "is revoked: create a new one" in again.output


@pytest.mark.parametrize("option", ["--expires-in", "--overlap"])
def test_a_duration_that_is_not_one_is_refused_naming_the_option(cli_env, org, option):
    command = (["token", "create", "--org", org.org.slug] if option == "--expires-in"
               else ["token", "rotate", "--org", org.org.slug, org.token[:12]])
    result = run(cli_env, *command, option, "3 weeks")

    assert result.exit_code == 2
    assert option in result.output and "90d" in result.output


@pytest.mark.parametrize("command, name, problem", [
    (("org", "set", "{slug}"), "", "must not be blank"),
    (("org", "set", "{slug}"), "   ", "must not be blank"),
    (("org", "create", "{new}"), "x" * 101, "101 characters; at most 100"),
    (("token", "create", "--org", "{slug}"), "", "must not be blank"),
    (("token", "create", "--org", "{slug}"), "two\nlines", "one line"),
    (("user", "token", "--org", "{slug}", "--email", "nobody@example.com"), "\t", "blank"),
])
def test_a_blank_long_or_multi_line_name_is_refused_naming_the_option(db, cli_env, org, command,
                                                                      name, problem):
    def names():
        return db.execute("SELECT (SELECT array_agg(name ORDER BY org_id) FROM orgs),"
                          " (SELECT array_agg(name ORDER BY token_id) FROM ingest_tokens"
                          "   WHERE org_id = %s)", (org.org.org_id,)).fetchone()

    before = names()
    result = run(cli_env, *(part.format(slug=org.org.slug, new=new_slug()) for part in command),
                 "--name", name)

    assert result.exit_code == 2, result.output
    assert "--name" in result.output and problem in result.output
    assert names() == before


@pytest.mark.parametrize("expires_in, lifetime", [(None, timedelta(days=30)), ("never", None),
                                                  ("2d", timedelta(days=2))])
def test_a_rotated_token_keeps_the_old_ones_lifetime_unless_told(db, cli_env, org, expires_in,
                                                                lifetime):
    pilot = created_token(cli_env, org.org.slug, "--name", "pilot", "--expires-in", "30d")
    options = [] if expires_in is None else ["--expires-in", expires_in]

    result = run(cli_env, "token", "rotate", "--org", org.org.slug, pilot[:12], *options)

    assert result.exit_code == 0, result.output
    new = result.stdout.splitlines()[-1]
    (replacement,) = [item for item in orgs.list_ingest_tokens(db, org.org)
                      if item.token_prefix == new[:12]]
    if lifetime is None:
        assert replacement.expires_at is None
    else:
        due = datetime.now(UTC) + lifetime
        assert abs(replacement.expires_at - due) < timedelta(minutes=1)


def test_init_db_as_the_app_role_says_the_schema_needs_its_owner(app_database_url, master_key):
    # The environment file's MOJULE_DATABASE_URL alone: the server's role, not the owner.
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_OWNER_DATABASE_URL": None,
           "MOJULE_MASTER_KEY": master_key}

    result = run(env, "init-db")

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)         # a message, not a traceback
    assert "cannot change the schema as role 'mojule_app' (MOJULE_DATABASE_URL)" in result.output
    assert "permission denied" in result.output
    assert "set MOJULE_OWNER_DATABASE_URL" in result.output


@pytest.fixture
def owned_database(server_url):
    """A new database owned by a role that is not superuser but has CREATEROLE, as the
    install guide makes it; returns (owner URL, superuser URL), dropped with its roles."""
    suffix = uuid.uuid4().hex[:8]
    owner, name = f"mojule_owner_{suffix}", f"mojule_owned_{suffix}"
    password = uuid.uuid4().hex
    with connect(server_url) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD '{password}'")
        conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
    superuser_url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
    yield psycopg.conninfo.make_conninfo(superuser_url, user=owner, password=password), \
        superuser_url
    with connect(server_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        for (role,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                                    (f"%{suffix}",)).fetchall():
            conn.execute(f"DROP ROLE {role}")


def app_url_printed(result) -> str:
    return result.stdout.strip().splitlines()[-1].split("=", 1)[1].strip("'")


def test_init_db_resets_the_app_password_as_an_owner_that_is_not_superuser(owned_database,
                                                                           master_key):
    owner_url, superuser_url = owned_database
    app_role = f"mojule_app_{owner_url.split('mojule_owner_')[1][:8]}"
    env = {"MOJULE_DATABASE_URL": owner_url, "MOJULE_OWNER_DATABASE_URL": owner_url,
           "MOJULE_MASTER_KEY": master_key}

    def stored_password():
        with connect(superuser_url) as conn:
            return conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                                (app_role,)).fetchone()[0]

    created = run(env, "init-db", "--app-role", app_role)
    first = stored_password()
    reset = run(env, "init-db", "--app-role", app_role, "--reset-app-password")

    assert created.exit_code == 0, created.output
    assert reset.exit_code == 0, reset.output
    assert app_url_printed(created) != app_url_printed(reset)
    assert first is not None and stored_password() not in (None, first)
    with connect(app_url_printed(reset)) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == app_role
    # A URL, as operators write MOJULE_DATABASE_URL, naming the app role.
    assert urlsplit(app_url_printed(reset)).scheme == "postgresql"
    assert urlsplit(app_url_printed(reset)).username == app_role


@pytest.mark.parametrize("conninfo, changes", [
    ("postgresql://owner:secret@db.example:5433/mojule?sslmode=require",
     {"user": "mojule_app", "password": "p@ss:w/rd?#%&= ü"}),
    ("host=/var/run/postgresql port=5432 dbname=mojule user=postgres", {"user": "app"}),
    ("postgresql://h1:5432,h2:5433/mojule?target_session_attrs=read-write", {"user": "app"}),
    ("dbname=mojule", {}),
])
def test_a_connection_is_given_back_as_the_url_of_the_same_parameters(conninfo, changes):
    url = connection_url(conninfo, **changes)

    assert url.startswith("postgresql://")
    assert psycopg.conninfo.conninfo_to_dict(url) == {
        **psycopg.conninfo.conninfo_to_dict(conninfo), **changes}


@pytest.mark.parametrize("attribute, named", [("BYPASSRLS", "BYPASSRLS"),
                                              ("SUPERUSER", "SUPERUSER"),
                                              ("LOGIN CREATEROLE", "CREATEROLE"),
                                              ("LOGIN IN ROLE {owner}",
                                               "the schema owner"),
                                              ("NOLOGIN", "without LOGIN")])
def test_init_db_refuses_an_app_role_that_bypasses_row_level_security_or_cannot_log_in(
        owned_database, master_key, attribute, named):
    owner_url, superuser_url = owned_database
    owner = psycopg.conninfo.conninfo_to_dict(owner_url)["user"]
    app_role = f"mojule_app_{owner_url.split('mojule_owner_')[1][:8]}"
    with connect(superuser_url) as conn:
        conn.execute(f"CREATE ROLE {app_role} {attribute.format(owner=owner)}")
    env = {"MOJULE_DATABASE_URL": owner_url, "MOJULE_OWNER_DATABASE_URL": owner_url,
           "MOJULE_MASTER_KEY": master_key}

    result = run(env, "init-db", "--app-role", app_role)

    assert result.exit_code == 1
    assert f"role '{app_role}' exists" in result.output
    assert named in result.output
    assert "--app-role" in result.output
    with connect(superuser_url) as conn:
        granted = conn.execute("SELECT count(*) FROM information_schema.role_table_grants"
                               " WHERE grantee = %s", (app_role,)).fetchone()[0]
    assert granted == 0


def test_init_db_names_a_failing_migration_and_keeps_those_before_it(fresh_database_url,
                                                                      master_key, monkeypatch):
    install_release_before(fresh_database_url, 23, monkeypatch)
    with connect(fresh_database_url) as conn:
        # What 0024 creates, there already (a hand-made fix, a half-restored dump...).
        conn.execute("CREATE TABLE license_seat_aliases (alias_digest bytea)")
    env = {"MOJULE_DATABASE_URL": fresh_database_url, "MOJULE_MASTER_KEY": master_key}

    result = run(env, "init-db")

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "applied migration 0023 " in result.output
    assert "in migration 0024 license_seat_aliases" in result.output
    assert 'relation "license_seat_aliases" already exists' in result.output
    assert "Nothing of that migration was applied" in result.output
    with connect(fresh_database_url) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (23,)
        assert conn.execute("SELECT to_regprocedure('mojule_seat_digest(bytea)')"
                            ).fetchone() == (None,)


@pytest.mark.parametrize("command", [("token", "create"), ("token", "rotate", "mtk_whatever")])
def test_a_token_that_would_expire_as_it_is_made_is_refused(cli_env, org, command):
    result = run(cli_env, *command, "--org", org.org.slug, "--expires-in", "0d")

    assert result.exit_code == 2
    assert "'0d' is no time at all" in result.output
    assert not TOKEN_LINE.search(result.output)


def test_audit_verify_of_an_org_id_without_rows_fails_instead_of_holding(cli_env, org):
    with connect(cli_env["MOJULE_DATABASE_URL"]) as conn:
        unused = conn.execute("SELECT max(org_id) + 1000 FROM orgs").fetchone()[0]

    missing = run(cli_env, "audit", "verify", "--org-id", str(unused))
    existing = run(cli_env, "audit", "verify", "--org-id", str(org.org.org_id))

    assert missing.exit_code == 1
    assert f"no audit rows under org id {unused}, and no org has that id" in missing.output
    assert existing.exit_code == 0, existing.output
    assert "holds" in existing.output


def test_org_list_prints_no_header_before_a_configuration_error(app_database_url):
    result = run({"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": None},
                 "org", "list")

    assert result.exit_code == 1
    assert "MOJULE_MASTER_KEY" in result.output
    assert "SLUG" not in result.output
