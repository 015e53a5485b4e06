"""The analyst role: the whole org's usage and sessions, as an admin sees them, but no one's
content but their own, and no change to the org."""
from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from mojule import people
from mojule.cli import cli
from tests.conftest import ingest_session
from tests.test_dashboard import csrf_of, person, sign_in

WINDOW = "from=2026-11-01&to=2026-12-01"
SESSIONS = ("bash-tool", "failing-bash", "write-tool-resource-attrs")
ALICES = "write-tool-resource-attrs"     # seat alice@example.com


@pytest.fixture
def team(client, db, org):
    """An org with the three recorded sessions, an admin, an analyst (Alice, whose seat
    one session is) and a member."""
    ids = {name: ingest_session(client, org, name) for name in SESSIONS}
    return ids, {"admin": person(db, org, "boss@example.com", "admin"),
                 "analyst": person(db, org, "alice@example.com", "analyst"),
                 "member": person(db, org, "carol@example.com", "member")}


def get(client, url: str, who):
    return client.get(url, headers=who.headers)


def test_an_analyst_sees_the_whole_orgs_usage_and_sessions_as_an_admin_does(client, team):
    _, people_of = team
    for url in (f"/api/v1/usage?{WINDOW}&group_by=user", f"/api/v1/sessions?{WINDOW}"):
        admins, analysts, members = (get(client, url, people_of[role]).get_json()
                                     for role in ("admin", "analyst", "member"))
        assert analysts == admins, url
        assert members != admins, url
    listed = get(client, f"/api/v1/sessions?{WINDOW}", people_of["analyst"]).get_json()
    assert len(listed["sessions"]) == len(SESSIONS)


def test_an_analyst_reads_only_their_own_sessions_content_and_every_try_is_audited(
        client, db, org, team):
    ids, people_of = team
    analyst = people_of["analyst"]

    others = get(client, f"/api/v1/sessions/{ids['bash-tool']}/content", analyst)
    own = get(client, f"/api/v1/sessions/{ids[ALICES]}/content", analyst)

    assert others.status_code == 403
    assert own.status_code == 200 and own.get_json()["items"]
    rows = db.execute("SELECT outcome, actor_role, target_id FROM audit_log WHERE org_id = %s"
                      " AND action = 'content.read' ORDER BY audit_id",
                      (org.org.org_id,)).fetchall()
    assert rows == [("denied", "analyst", ids["bash-tool"]), ("allowed", "analyst", ids[ALICES])]


@pytest.mark.parametrize("url, status", [
    ("/api/v1/budget", 200),
    ("/api/v1/audit", 403),
    (f"/api/v1/security-events?{WINDOW}", 403),
])
def test_an_analyst_reads_the_budget_but_not_the_audit_trail_nor_security_events(
        client, team, url, status):
    assert get(client, url, team[1]["analyst"]).status_code == status


def test_an_analysts_dashboard_is_the_orgs_without_admin_pages_or_others_content(
        app, client, org, team):
    ids, _ = team
    browser = app.test_client()
    sign_in(browser, org, "alice@example.com")

    users = browser.get(f"/users?{WINDOW}")
    others = browser.get(f"/sessions/{ids['bash-tool']}").text
    own = browser.get(f"/sessions/{ids[ALICES]}").text

    assert users.status_code == 200 and "<h1>Users</h1>" in users.text
    assert ">Admin<" not in users.text
    assert browser.get("/admin/members").status_code == 403
    assert browser.get("/admin/holds").status_code == 403
    button = ">Show content</button>"
    assert 'data-testid="content-not-yours"' in others and button not in others
    assert button in own and 'data-testid="content-not-yours"' not in own
    refused = browser.post(f"/sessions/{ids['bash-tool']}/content",
                           data={"csrf_token": csrf_of(others)})
    assert refused.status_code == 403
    assert "an analyst of this organization" in browser.get("/account").text


def test_an_admin_makes_someone_an_analyst_on_the_members_page(app, client, db, org, team):
    member = team[1]["member"]
    browser = app.test_client()
    sign_in(browser, org, "boss@example.com")
    page = browser.get("/admin/members").text
    assert '<option value="analyst"' in page

    changed = browser.post(f"/admin/members/{member.user.user_id}/role",
                           data={"csrf_token": csrf_of(page), "role": "analyst"})

    assert changed.status_code == 302
    assert people.find_user(db, org.org.org_id, "carol@example.com").role == "analyst"
    assert db.execute("SELECT details->'role' FROM audit_log WHERE org_id = %s"
                      " AND action = 'user.set_role'", (org.org.org_id,)).fetchone() == (
        ["member", "analyst"],)


def test_the_cli_creates_and_lists_analysts(db, org, cli_env):
    runner = CliRunner()
    created = runner.invoke(cli, ["user", "create", "--org", org.org.slug, "--email",
                                  "lead@example.com", "--role", "analyst"], env=cli_env)
    listed = runner.invoke(cli, ["user", "list", "--org", org.org.slug], env=cli_env)

    assert created.exit_code == 0, created.output
    assert "created analyst lead@example.com" in created.output
    assert any("analyst" in line and "lead@example.com" in line
               for line in listed.output.splitlines())


def test_the_database_refuses_a_role_it_does_not_know(db, org):
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO users (org_id, email, role) VALUES (%s, 'x@example.com', 'owner')",
                   (org.org.org_id,))


def test_an_analysts_events_export_is_their_own_as_a_members_is(client, team):
    # The whole org's events are what security events are made of (review 65).
    admin, analyst = team[1]["admin"], team[1]["analyst"]
    url = f"/api/v1/export/events.ndjson?{WINDOW}"

    theirs = get(client, url, analyst).get_data(as_text=True)
    alices = get(client, f"{url}&user=alice%40example.com", admin).get_data(as_text=True)
    everyones = get(client, url, admin).get_data(as_text=True)

    assert theirs == alices and theirs.count("\n") < everyones.count("\n")
