"""Legal holds: the purge keeps what an active hold covers, and only that, until it is
released; holds are placed and released from the CLI and the admin page, on the record."""
from __future__ import annotations

import json
import re

import click
import psycopg
import pytest
from click.testing import CliRunner

from mojule import holds, orgs, people
from mojule.cli import cli
from mojule.db import org_transaction, query
from tests.conftest import fixture_bytes, ingest_session, make_user
from tests.test_dashboard import csrf_of, person, sign_in
from tests.test_retention_keys import AFTER_95_DAYS, purge_receipts

ALICES = "write-tool-resource-attrs"     # seat alice@example.com
BASH = "bash-tool"                       # seat: an install id


def run(env: dict, *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


def content_count(db, org_id: int, session_id: str) -> int:
    return db.execute("SELECT count(*) FROM content_values WHERE org_id = %s AND session_id = %s",
                      (org_id, session_id)).fetchone()[0]


def purge(cli_env) -> str:
    result = run(cli_env, "purge", "--allow-future-now", "--now", AFTER_95_DAYS)
    assert result.exit_code == 0, result.output
    return result.output


def place(cli_env, org, *target: str, reason: str = "matter 2026-114") -> int:
    result = run(cli_env, "hold", "place", "--org", org.org.slug, *target, "--reason", reason)
    assert result.exit_code == 0, result.output
    return int(result.stdout.strip().splitlines()[-1])


def test_a_held_session_keeps_its_content_past_the_window_until_released(client, db, org,
                                                                         cli_env):
    held, other = ingest_session(client, org, ALICES), ingest_session(client, org, BASH)
    kept = content_count(db, org.org.org_id, held)
    assert kept and content_count(db, org.org.org_id, other)
    hold_id = place(cli_env, org, "--session", held)

    output = purge(cli_env)

    assert content_count(db, org.org.org_id, held) == kept
    assert content_count(db, org.org.org_id, other) == 0
    assert f"{org.org.slug}: kept {kept} content values past the window under legal holds" \
        in output
    assert purge_receipts(db, org.org.org_id)[-1][1] == kept

    released = run(cli_env, "hold", "release", "--org", org.org.slug, str(hold_id))
    assert released.exit_code == 0, released.output
    purge(cli_env)

    assert content_count(db, org.org.org_id, held) == 0
    assert purge_receipts(db, org.org.org_id)[-1][:2] == (kept, 0)


def test_a_held_seat_keeps_its_sessions_those_after_the_hold_included(client, db, org, cli_env):
    first = ingest_session(client, org, ALICES)
    place(cli_env, org, "--seat", "Alice@Example.com")    # seats' emails are lower case
    later = "a1a1a1a1-0000-4000-8000-000000000001"
    for signal in ("logs", "traces"):
        body = fixture_bytes(ALICES, signal).decode().replace(first, later)
        assert client.post(f"/v1/{signal}", data=body, headers=org.headers).status_code == 202
    others = ingest_session(client, org, BASH)
    kept = {session: content_count(db, org.org.org_id, session) for session in (first, later)}
    assert all(kept.values())

    purge(cli_env)

    assert {session: content_count(db, org.org.org_id, session) for session in kept} == kept
    assert content_count(db, org.org.org_id, others) == 0


def test_a_hold_keeps_only_its_own_orgs_session(client, db, org, other_org, cli_env):
    # The same session id in two orgs: a hold in one is nothing to the other.
    session_id = ingest_session(client, org, ALICES)
    ingest_session(client, other_org, ALICES)
    place(cli_env, org, "--session", session_id)

    purge(cli_env)

    assert content_count(db, org.org.org_id, session_id) > 0
    assert content_count(db, other_org.org.org_id, session_id) == 0


def test_a_dry_run_does_not_count_held_content_as_removable(client, db, org, cli_env):
    held = ingest_session(client, org, ALICES)
    other = ingest_session(client, org, BASH)
    place(cli_env, org, "--session", held)

    result = run(cli_env, "purge", "--dry-run", "--now", AFTER_95_DAYS)

    removable = content_count(db, org.org.org_id, other)
    assert f"{org.org.slug}: would remove {removable} content values" in result.output
    assert content_count(db, org.org.org_id, held) > 0


@pytest.mark.parametrize("arguments, message", [
    (["--session", "no-such-session"], "has no session 'no-such-session'"),
    (["--session", "x", "--seat", "y@example.com"], "Name one session, one seat or one person"),
    ([], "Name one session, one seat or one person"),
    (["--seat", "line\nbreak"], "on one line"),
])
def test_a_hold_that_would_hold_nothing_or_is_unclear_is_refused(db, org, cli_env, arguments,
                                                                 message):
    result = run(cli_env, "hold", "place", "--org", org.org.slug, *arguments,
                 "--reason", "matter 1")

    assert result.exit_code == 2
    assert message in result.output
    assert db.execute("SELECT count(*) FROM legal_holds WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0


def test_a_hold_needs_a_reason(org, cli_env):
    result = run(cli_env, "hold", "place", "--org", org.org.slug, "--seat", "a@example.com",
                 "--reason", "  ")

    assert result.exit_code == 2 and "must not be blank" in result.output


def test_holds_are_listed_released_once_and_every_change_is_audited(client, db, org, cli_env):
    session_id = ingest_session(client, org, ALICES)
    by_session = place(cli_env, org, "--session", session_id, reason="matter A")
    by_seat = place(cli_env, org, "--seat", "nobody-yet@example.com", reason="matter B")
    run(cli_env, "hold", "release", "--org", org.org.slug, str(by_seat))

    again = run(cli_env, "hold", "release", "--org", org.org.slug, str(by_seat))
    listed = run(cli_env, "hold", "list", "--org", org.org.slug).output.splitlines()
    active = run(cli_env, "hold", "list", "--org", org.org.slug, "--active").output.splitlines()

    assert again.exit_code == 1 and f"no active hold {by_seat}" in again.output
    assert [line.split("\t")[:3] for line in listed] == [
        [str(by_session), f"session {session_id}", "1 sessions"],
        [str(by_seat), "seat nobody-yet@example.com", "0 sessions"]]
    assert listed[0].endswith("active\tmatter A") and "released" in listed[1]
    assert [line.split("\t")[0] for line in active] == [str(by_session)]
    rows = db.execute("SELECT action, target_id, details->>'reason' FROM audit_log"
                      " WHERE org_id = %s AND action LIKE 'hold.%%' ORDER BY audit_id",
                      (org.org.org_id,)).fetchall()
    assert rows == [("hold.place", str(by_session), "matter A"),
                    ("hold.place", str(by_seat), "matter B"),
                    ("hold.release", str(by_seat), "matter B")]


def test_an_org_under_hold_is_not_deleted_until_its_holds_are_released(client, db, org,
                                                                       cli_env):
    session_id = ingest_session(client, org, ALICES)
    hold_id = place(cli_env, org, "--session", session_id)
    audit_before = db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                              (org.org.org_id,)).fetchone()[0]

    refused = run(cli_env, "org", "delete", org.org.slug, "--yes")

    assert refused.exit_code == 1 and "1 active legal hold" in refused.output
    assert content_count(db, org.org.org_id, session_id) > 0
    assert db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == audit_before
    run(cli_env, "hold", "release", "--org", org.org.slug, str(hold_id))
    deleted = run(cli_env, "org", "delete", org.org.slug, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert db.execute("SELECT count(*) FROM legal_holds WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0


@pytest.fixture
def admin_browser(app, client, db, org):
    person(db, org, "boss@example.com", "admin")
    browser = app.test_client()
    sign_in(browser, org, "boss@example.com")
    return browser


def test_an_admin_places_and_releases_a_hold_on_the_page(admin_browser, client, db, org):
    session_id = ingest_session(client, org, ALICES)
    form = admin_browser.get(f"/admin/holds?session={session_id}").text
    assert f'value="{session_id}"' in form

    placed = admin_browser.post("/admin/holds", data={
        "csrf_token": csrf_of(form), "kind": "session", "target": session_id,
        "reason": "matter 9"}, follow_redirects=True)

    (hold_id, released_at), = db.execute(
        "SELECT hold_id, released_at FROM legal_holds WHERE org_id = %s", (org.org.org_id,))
    assert released_at is None
    assert f"Placed hold {hold_id} on session {session_id}" in placed.text
    row = re.search(rf'<tr data-hold-id="{hold_id}">.*?</tr>', placed.text, re.DOTALL).group(0)
    assert "matter 9" in row and "active" in row and "boss@example.com" in row
    page = admin_browser.get(f"/sessions/{session_id}").text
    assert f"legal hold {hold_id}" in page and "matter 9" in page

    released = admin_browser.post(f"/admin/holds/{hold_id}/release",
                                  data={"csrf_token": csrf_of(placed.text)},
                                  follow_redirects=True)

    assert f"Released hold {hold_id}" in released.text
    assert db.execute("SELECT released_by FROM legal_holds WHERE hold_id = %s",
                      (hold_id,)).fetchone() == ("boss@example.com",)
    assert "Place a legal hold" in admin_browser.get(f"/sessions/{session_id}").text
    actors = db.execute("SELECT action, actor_id FROM audit_log WHERE org_id = %s"
                        " AND action LIKE 'hold.%%' ORDER BY audit_id",
                        (org.org.org_id,)).fetchall()
    assert actors == [("hold.place", "boss@example.com"), ("hold.release", "boss@example.com")]


def test_a_refused_hold_keeps_what_was_typed_and_says_why(admin_browser, db, org):
    form = admin_browser.get("/admin/holds").text

    refused = admin_browser.post("/admin/holds", data={
        "csrf_token": csrf_of(form), "kind": "session", "target": "not-a-session",
        "reason": "matter 10"})

    assert refused.status_code == 400
    assert "has no session" in refused.text
    assert 'value="not-a-session"' in refused.text and 'value="matter 10"' in refused.text
    assert db.execute("SELECT count(*) FROM legal_holds WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0


def test_members_neither_see_nor_place_holds(app, client, db, org):
    session_id = ingest_session(client, org, ALICES)
    person(db, org, "alice@example.com")
    member = app.test_client()
    sign_in(member, org, "alice@example.com")

    assert member.get("/admin/holds").status_code == 403
    own_page = member.get(f"/sessions/{session_id}").text
    assert "legal hold" not in own_page.lower()


def rows_read_before(plan: dict, node_type: str) -> int | None:
    """The rows the first node of ``node_type`` (an anti join) read from its outer side."""
    if node_type in plan.get("Join Type", "") + plan.get("Node Type", ""):
        return plan["Plans"][0]["Actual Rows"]
    for child in plan.get("Plans", ()):
        found = rows_read_before(child, node_type)
        if found is not None:
            return found
    return None


def test_a_purge_batch_reads_held_content_once_not_once_per_batch(db, org, cli_env):
    # Keyset paging: each batch goes on from where the last one ended, so the 30,000 held
    # rows before it are not read again (review 65 measured batches x held rows).
    org_id = org.org.org_id
    db.execute("""INSERT INTO content_values (org_id, time, signal, record_id, attribute,
                                              session_id, dek_id, ciphertext)
                  SELECT %s, '2026-11-01'::timestamptz + g * interval '1 second', 'logs',
                         int8send(g), 'prompt',
                         CASE WHEN g <= 30000 THEN 'held' ELSE 's' || g END, 1, '\\x00'
                    FROM generate_series(1, 40000) AS g""", (org_id,))
    db.execute("INSERT INTO sessions (org_id, session_id, seat_identity, first_seen, last_seen)"
               " VALUES (%s, 'held', 'held@example.com', '2026-11-01', '2026-11-01')", (org_id,))
    db.execute("ANALYZE content_values")
    place(cli_env, org, "--seat", "held@example.com")
    batch = {"org_id": org_id, "cutoff": "2027-01-01", "batch": 5000}

    with db.transaction():                  # EXPLAIN ANALYZE deletes; then rolled back
        first = db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query("content_expired_delete"),
                           {**batch, "after": None}).fetchone()[0][0]["Plan"]
        later = db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query("content_expired_delete"),
                           {**batch, "after": "2026-11-01T09:00:00Z"}).fetchone()[0][0]["Plan"]
        raise psycopg.Rollback()

    assert rows_read_before(first, "Anti") > 30000            # the held rows, this once
    assert rows_read_before(later, "Anti") <= 5000 + 1        # a batch after them: only it


def without_session_id(session: str, signal: str) -> bytes:
    """A recorded session's spans or log records with their session.id left off."""
    body = json.loads(fixture_bytes(session, signal))
    resources = body["resourceSpans"] if signal == "traces" else body["resourceLogs"]
    for resource in resources:
        for scope in resource.get("scopeSpans") or resource.get("scopeLogs"):
            for record in scope.get("spans") or scope.get("logRecords"):
                record["attributes"] = [attribute for attribute in record["attributes"]
                                        if attribute["key"] != "session.id"]
    return json.dumps(body).encode()


def sessionless_content(db, org_id: int) -> int:
    return db.execute("SELECT count(*) FROM content_values WHERE org_id = %s"
                      " AND session_id IS NULL", (org_id,)).fetchone()[0]


def test_while_a_seat_is_held_content_sent_without_a_session_is_kept(client, db, org, cli_env):
    # Spans sent without session.id name no seat the purge could tell apart (review 65):
    # while any seat is held, they are kept rather than lost to the hold.
    answer = client.post("/v1/traces", data=without_session_id(ALICES, "traces"),
                         headers=org.headers)
    assert answer.status_code == 202
    orphans = sessionless_content(db, org.org.org_id)
    assert orphans > 0
    hold_id = place(cli_env, org, "--seat", "alice@example.com")

    purge(cli_env)

    assert sessionless_content(db, org.org.org_id) == orphans
    run(cli_env, "hold", "release", "--org", org.org.slug, str(hold_id))
    purge(cli_env)
    assert sessionless_content(db, org.org.org_id) == 0


def test_a_hold_placed_while_org_delete_asks_stops_it_before_anything_is_recorded(
        client, db, org, cli_env, monkeypatch):
    session_id = ingest_session(client, org, ALICES)

    def confirm_while_an_admin_places_a_hold(*args, **kwargs):
        place(cli_env, org, "--session", session_id)
        return True

    monkeypatch.setattr(click, "confirm", confirm_while_an_admin_places_a_hold)
    result = run(cli_env, "org", "delete", org.org.slug)

    assert result.exit_code == 1 and "1 active legal hold" in result.output
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'org.delete'"
                      " AND target_id = %s", (org.org.slug,)).fetchone()[0] == 0
    assert content_count(db, org.org.org_id, session_id) > 0


def test_delete_org_checks_for_holds_in_the_transaction_that_destroys_the_keys(client, db,
                                                                               org):
    session_id = ingest_session(client, org, ALICES)
    with org_transaction(db, org.org.org_id):
        holds.place_hold(db, org.org.org_id, "matter 3", "cli", session_id=session_id)

    with pytest.raises(orgs.OrgUnderHold):
        orgs.delete_org(db, org.org)

    assert db.execute("SELECT count(*) FROM data_keys WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] > 0


def test_admins_read_the_holds_through_the_api_and_no_one_else(client, db, org, cli_env):
    session_id = ingest_session(client, org, ALICES)
    kept = place(cli_env, org, "--session", session_id, reason="matter A")
    gone = place(cli_env, org, "--seat", "bob@example.com", reason="matter B")
    run(cli_env, "hold", "release", "--org", org.org.slug, str(gone))
    admin = make_user(db, org, "boss@example.com", "admin")
    analyst = make_user(db, org, "lead@example.com", "analyst")

    listed = client.get("/api/v1/holds", headers=admin.headers).get_json()["holds"]
    active = client.get("/api/v1/holds?active=true", headers=admin.headers).get_json()["holds"]

    assert [(hold["hold_id"], hold["active"], hold["sessions"]) for hold in listed] == [
        (kept, True, 1), (gone, False, 0)]
    assert listed[0]["session_id"] == session_id and listed[1]["seat"] == "bob@example.com"
    assert listed[1]["released_by"] and listed[1]["released_at"]
    assert [hold["hold_id"] for hold in active] == [kept]
    assert client.get("/api/v1/holds", headers=analyst.headers).status_code == 403


def test_a_hold_on_a_person_keeps_every_seat_linked_to_them(client, db, org, cli_env):
    alice = make_user(db, org, "alice@example.com", "member")
    install_id = "106316defa0e7ba26537f2f4f95ee21cddfa9d216aa01da5ebe11b6328282438"
    people.link_identity(db, alice.user, "user_id", install_id)
    by_email, by_install = ingest_session(client, org, ALICES), ingest_session(client, org, BASH)
    kept = {one: content_count(db, org.org.org_id, one) for one in (by_email, by_install)}

    result = run(cli_env, "hold", "place", "--org", org.org.slug, "--person",
                 "ALICE@example.com", "--reason", "matter 2026-115")
    unknown = run(cli_env, "hold", "place", "--org", org.org.slug, "--person",
                  "nobody@example.com", "--reason", "matter 2026-115")
    purge(cli_env)

    assert result.exit_code == 0, result.output
    hold_ids = [int(line) for line in result.stdout.split()]
    assert len(hold_ids) == 2
    assert {one: content_count(db, org.org.org_id, one) for one in kept} == kept
    placed = db.execute("SELECT seat_identity FROM legal_holds WHERE org_id = %s"
                        " ORDER BY hold_id", (org.org.org_id,)).fetchall()
    assert placed == [("alice@example.com",), (install_id,)]
    audited = db.execute("SELECT target_id, details->>'seat', details->>'person' FROM audit_log"
                         " WHERE org_id = %s AND action = 'hold.place' ORDER BY audit_id",
                         (org.org.org_id,)).fetchall()
    assert audited == [(str(hold_ids[0]), "alice@example.com", "alice@example.com"),
                       (str(hold_ids[1]), install_id, "alice@example.com")]
    assert unknown.exit_code == 2 and "no member 'nobody@example.com'" in unknown.output


def test_an_admin_holds_a_person_on_the_page(admin_browser, client, db, org):
    alice = make_user(db, org, "alice@example.com", "member")
    people.link_identity(db, alice.user, "account_uuid", "acc-7")
    ingest_session(client, org, ALICES)
    form = admin_browser.get("/admin/holds").text

    placed = admin_browser.post("/admin/holds", data={
        "csrf_token": csrf_of(form), "kind": "person", "target": " Alice@Example.com ",
        "reason": "matter 10"}, follow_redirects=True)

    assert ("Placed 2 hold(s), one on each seat of Alice@Example.com (alice@example.com, "
            "acc-7): the purge keeps the content of their 1 session(s)") in placed.text
    seats = db.execute("SELECT seat_identity FROM legal_holds WHERE org_id = %s ORDER BY hold_id",
                       (org.org.org_id,)).fetchall()
    assert seats == [("alice@example.com",), ("acc-7",)]
