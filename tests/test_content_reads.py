"""Reads of one's content: each person sees who read their own sessions' content, and
who tried and was refused, through GET /api/v1/content-reads and their account page."""
from __future__ import annotations

import re

import pytest

from mojule import people
from mojule.dashboard import account
from mojule.db import query
from tests.conftest import ingest_session, make_org, make_user
from tests.test_dashboard import PASSWORD, csrf_of, sign_in

ALICES_SESSION = "write-tool-resource-attrs"    # signed in as alice@example.com
BASH_SESSION = "bash-tool"                      # no email: only user.id names the seat
BASH_USER_ID = "106316defa0e7ba26537f2f4f95ee21cddfa9d216aa01da5ebe11b6328282438"


@pytest.fixture
def team(db, org):
    team = {"admin": make_user(db, org, "boss@example.com", "admin"),
            "alice": make_user(db, org, "alice@example.com", "member"),
            "bob": make_user(db, org, "bob@example.com", "member")}
    for member in team.values():
        people.set_password(db, member.user, PASSWORD)
    return team


def read_content(client, session_id: str, reader) -> int:
    return client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=reader.headers).status_code


def reads_of(client, reader, query: str = "") -> dict:
    response = client.get(f"/api/v1/content-reads{query}", headers=reader.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def audited_reads(db, org_id: int) -> list[tuple]:
    """The audit trail's content reads, newest first, as the API should give them."""
    return db.execute("SELECT audit_id, actor_id, outcome, target_id FROM audit_log"
                      " WHERE org_id = %s AND action = 'content.read'"
                      " ORDER BY audit_id DESC", (org_id,)).fetchall()


def test_the_owner_sees_every_read_and_refusal_of_their_session_newest_first(
        client, db, org, team):
    session_id = ingest_session(client, org, ALICES_SESSION)
    assert read_content(client, session_id, team["admin"]) == 200
    assert read_content(client, session_id, team["bob"]) == 403
    assert read_content(client, session_id, team["alice"]) == 200

    body = reads_of(client, team["alice"])

    audited = audited_reads(db, org.org.org_id)
    assert [(read["audit_id"], read["reader"], read["outcome"], read["session_id"])
            for read in body["reads"]] == audited
    assert [read["reader"] for read in body["reads"]] == [
        "alice@example.com", "bob@example.com", "boss@example.com"]
    assert [read["outcome"] for read in body["reads"]] == ["allowed", "denied", "allowed"]
    assert [read["reader_role"] for read in body["reads"]] == ["member", "member", "admin"]
    assert {read["via"] for read in body["reads"]} == {"api_token"}
    assert body["next_before"] is None


def test_nobody_sees_the_reads_of_sessions_that_are_not_theirs(client, db, org, team):
    session_id = ingest_session(client, org, ALICES_SESSION)
    assert read_content(client, session_id, team["admin"]) == 200

    assert reads_of(client, team["bob"])["reads"] == []
    assert reads_of(client, team["admin"])["reads"] == []
    assert len(reads_of(client, team["alice"])["reads"]) == 1


def test_a_linked_install_id_makes_the_sessions_reads_the_members(client, db, org, team):
    session_id = ingest_session(client, org, BASH_SESSION)
    assert read_content(client, session_id, team["admin"]) == 200
    assert reads_of(client, team["bob"])["reads"] == []

    people.link_identity(db, team["bob"].user, "user_id", BASH_USER_ID)

    assert [read["session_id"] for read in reads_of(client, team["bob"])["reads"]] == [session_id]


def test_reads_in_another_org_of_the_same_session_id_are_not_listed(client, db, org, team):
    session_id = ingest_session(client, org, ALICES_SESSION)
    elsewhere = make_org(db)
    their_admin = make_user(db, elsewhere, "boss@elsewhere.example", "admin")
    ingest_session(client, elsewhere, ALICES_SESSION)
    assert read_content(client, session_id, their_admin) == 200

    assert reads_of(client, team["alice"])["reads"] == []


def test_reads_are_paged_by_audit_id_without_gap_or_overlap(client, db, org, team):
    session_id = ingest_session(client, org, ALICES_SESSION)
    for _ in range(5):
        assert read_content(client, session_id, team["admin"]) == 200

    first = reads_of(client, team["alice"], "?limit=2")
    second = reads_of(client, team["alice"], f"?limit=2&before={first['next_before']}")
    third = reads_of(client, team["alice"], f"?limit=2&before={second['next_before']}")

    pages = [first, second, third]
    listed = [read["audit_id"] for page in pages for read in page["reads"]]
    assert listed == [row[0] for row in audited_reads(db, org.org.org_id)]
    assert [len(page["reads"]) for page in pages] == [2, 2, 1]
    assert third["next_before"] is None


@pytest.mark.parametrize("query", ["?before=0", "?before=x", "?before=-3", "?limit=0",
                                   "?limit=1001"])
def test_bad_paging_is_a_400_naming_the_parameter(client, team, query):
    response = client.get(f"/api/v1/content-reads{query}", headers=team["alice"].headers)

    assert response.status_code == 400
    assert query[1:].split("=")[0] in response.get_json()["message"]


def test_listing_reads_is_not_itself_a_read_of_content(client, db, org, team):
    session_id = ingest_session(client, org, ALICES_SESSION)
    assert read_content(client, session_id, team["admin"]) == 200
    before = db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                        (org.org.org_id,)).fetchone()[0]

    reads_of(client, team["alice"])

    after = db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                       (org.org.org_id,)).fetchone()[0]
    assert after == before


def test_an_ingest_token_or_no_token_gets_401(client, org):
    assert client.get("/api/v1/content-reads").status_code == 401
    assert client.get("/api/v1/content-reads", headers=org.headers).status_code == 401


def test_the_account_page_shows_a_dashboard_reveal_by_an_admin(app, client, db, org, team):
    session_id = ingest_session(client, org, ALICES_SESSION)
    admin = app.test_client()
    sign_in(admin, org, "boss@example.com")
    page = admin.get(f"/sessions/{session_id}").text
    assert admin.post(f"/sessions/{session_id}/content",
                      data={"csrf_token": csrf_of(page)}).status_code == 200
    alice = app.test_client()
    sign_in(alice, org, "alice@example.com")

    mine = alice.get("/account")
    theirs = admin.get("/account")

    assert mine.status_code == 200
    table = re.search(r'<table class="data" data-testid="content-reads">.*?</table>', mine.text,
                      re.DOTALL).group(0)
    assert "boss@example.com" in table and session_id in table
    assert "Dashboard" in table and "read" in table
    assert 'data-testid="content-reads"' not in theirs.text
    assert "Nobody has read your sessions" in theirs.text


def test_the_reads_page_pages_through_every_read(app, client, db, org, team, monkeypatch):
    monkeypatch.setattr(account, "READS_PAGE", 2)
    session_id = ingest_session(client, org, ALICES_SESSION)
    for _ in range(3):
        assert read_content(client, session_id, team["admin"]) == 200
    alice = app.test_client()
    sign_in(alice, org, "alice@example.com")
    ids = [row[0] for row in audited_reads(db, org.org.org_id)]

    first = alice.get("/account/content-reads")
    earlier = re.search(r'href="(/account/content-reads\?before=\d+)"', first.text).group(1)
    second = alice.get(earlier)

    shown = [int(found) for page in (first, second)
             for found in re.findall(r'data-audit-id="(\d+)"', page.text)]
    assert shown == ids
    assert "Earlier reads" not in second.text


def test_the_reads_page_wants_a_signed_in_browser(client):
    response = client.get("/account/content-reads")

    assert response.status_code in (302, 303)
    assert "/sign-in" in response.headers["Location"]


def test_the_reads_of_someone_nobody_read_are_found_without_walking_the_audit_trail(db, org):
    # Review 65: planned as a backward walk of the org's audit trail, an account page of a
    # person whose content nobody read read every audit row. It starts from their sessions.
    org_id = org.org.org_id
    db.execute("""INSERT INTO sessions (org_id, session_id, seat_identity, first_seen, last_seen)
                  SELECT %s, 's' || g, CASE WHEN g <= 2000 THEN 'busy@example.com'
                                            ELSE 'other' || (g %% 50) END,
                         '2026-11-01', '2026-11-01' FROM generate_series(1, 3000) AS g""",
               (org_id,))
    db.execute("""INSERT INTO audit_log (org_id, occurred_at, actor_type, action, target_type,
                                         target_id, outcome, row_hash)
                  SELECT %s, now(), 'user', CASE WHEN g %% 100 = 0 THEN 'content.read'
                                                 ELSE 'dashboard.view' END,
                         'session', 'other' || g, 'allowed', '\\x00'
                    FROM generate_series(1, 100000) AS g""", (org_id,))
    db.execute("ANALYZE sessions")
    db.execute("ANALYZE audit_log")
    seats = {"org_id": org_id, "seat_emails": ["busy@example.com"], "seat_account_uuids": [],
             "seat_user_ids": [], "before_id": None, "limit": 6}

    plan = db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query("audit_content_reads_of_seats"),
                      seats).fetchone()[0][0]["Plan"]

    def audit_rows_read(node: dict) -> int:
        if node.get("Relation Name") == "audit_log":
            return node["Actual Rows"] * node["Actual Loops"] + node.get("Rows Removed by Filter", 0)
        return sum(audit_rows_read(child) for child in node.get("Plans", ()))

    assert audit_rows_read(plan) < 100       # not the 1,000 reads of the others
