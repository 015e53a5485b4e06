"""Personal access tokens read content only when made to (migration 0035): a reporting
script's token reads usage, never a prompt, whoever made it."""
from __future__ import annotations

import re

from click.testing import CliRunner

from mojule import orgs, people, schema
from mojule.cli import cli
from mojule.db import connect
from tests.conftest import ingest_session
from tests.test_account import MUT_TOKEN, post
from tests.test_dashboard import PASSWORD, person, sign_in
from tests.upgrades import install_release_before

WINDOW = "from=2026-11-01&to=2026-12-01"
ALICES = "write-tool-resource-attrs"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_made_without_content_access_reads_usage_and_never_content(client, db, org):
    admin = person(db, org, "boss@example.com", "admin")
    session_id = ingest_session(client, org, ALICES)
    usage_only = people.create_user_token(db, admin.user, "weekly report")

    content = client.get(f"/api/v1/sessions/{session_id}/content", headers=bearer(usage_only))
    # Nor can it tell which sessions exist: a missing one is refused alike.
    missing = client.get("/api/v1/sessions/no-such-session/content", headers=bearer(usage_only))
    usage = client.get(f"/api/v1/usage?{WINDOW}", headers=bearer(usage_only))
    full = client.get(f"/api/v1/sessions/{session_id}/content", headers=admin.headers)

    assert content.status_code == 403 and "without content access" in content.get_json()["message"]
    assert "items" not in content.get_json()
    assert missing.status_code == 403 and missing.get_json() == content.get_json()
    assert usage.status_code == 200 and usage.get_json()["rows"]
    assert full.status_code == 200 and full.get_json()["items"]
    audited = db.execute("SELECT outcome, details FROM audit_log WHERE org_id = %s"
                         " AND action = 'content.read' ORDER BY audit_id",
                         (org.org.org_id,)).fetchall()
    assert audited[:2] == [("denied", {"token_reads_content": False})] * 2
    assert audited[2][0] == "allowed"


def test_the_cli_makes_a_token_that_reads_content_only_when_asked(client, db, org, cli_env):
    person(db, org, "boss@example.com", "admin")
    session_id = ingest_session(client, org, ALICES)

    def make(*flags):
        result = CliRunner().invoke(cli, ["user", "token", "--org", org.org.slug, "--email",
                                          "boss@example.com", "--name", "script", *flags],
                                    env=cli_env)
        assert result.exit_code == 0, result.output
        return result.stdout.strip().splitlines()[-1], result.stderr

    with_content, said = make("--reads-content")
    without, said_without = make()
    listed = CliRunner().invoke(cli, ["user", "tokens", "--org", org.org.slug, "--email",
                                      "boss@example.com"], env=cli_env).stdout

    assert "reads usage and content" in said and "reads usage, no content" in said_without
    assert client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=bearer(with_content)).status_code == 200
    assert client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=bearer(without)).status_code == 403
    # person() made the first token (as conftest does, with content); then these two.
    assert re.findall(r"\s(yes|no)\s+active\s", listed) == ["yes", "yes", "no"]


def test_the_account_page_makes_a_token_that_reads_content_when_ticked(client, db, org):
    person(db, org, "dev@example.com")
    session_id = ingest_session(client, org, ALICES)      # alice's, not dev's: 403 anyway
    sign_in(client, org, "dev@example.com")

    ticked = post(client, "/account/tokens", name="reader", expires_days="30",
                  current_password=PASSWORD, reads_content="yes")
    plain = post(client, "/account/tokens", name="report", expires_days="30",
                 current_password=PASSWORD)
    page = client.get("/account").text
    tokens = {token.name: token for token in people.list_user_tokens(
        db, people.find_user(db, org.org.org_id, "dev@example.com"))}

    assert ticked.status_code == plain.status_code == 200
    assert tokens["reader"].reads_content is True and tokens["report"].reads_content is False
    assert people.resolve_user_token(db, MUT_TOKEN.search(plain.text)[0]).reads_content is False
    assert page.count('data-reads-content="no"') == 1
    assert client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=bearer(MUT_TOKEN.search(plain.text)[0])).status_code == 403


def test_tokens_made_before_the_upgrade_keep_reading_content(fresh_database_url, monkeypatch):
    install_release_before(fresh_database_url, 35, monkeypatch)
    with connect(fresh_database_url) as conn:
        org = orgs.create_org(conn, "upgrading")
        user = people.create_user(conn, org.org_id, "boss@example.com", "admin")
        # What the release before stored: no reads_content column yet.
        conn.execute("INSERT INTO user_tokens (org_id, user_id, name, token_prefix,"
                     " token_digest) VALUES (%s, %s, 'old', 'mut_old', %s)",
                     (org.org_id, user.user_id, b"\x01" * 32))
    with connect(fresh_database_url) as conn:
        schema.apply_migrations(conn)
        (kept,) = conn.execute("SELECT reads_content FROM user_tokens").fetchone()
        made = people.create_user_token(conn, user, "new")
        assert people.resolve_user_token(conn, made).reads_content is False
    assert kept is True
