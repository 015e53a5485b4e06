"""The content contract: who may read a session's content, and the audit rows it leaves."""
from __future__ import annotations

import json

import pytest

from mojule.crypto import generate_master_key
from tests.conftest import FIXTURES, fixture_bytes, ingest_session, make_org, make_user
from tests.ingest_support import app_client

WRITE_SESSION = "write-tool-resource-attrs"    # signed in as alice@example.com
BASH_SESSION = "bash-tool"                      # no email: only user.id identifies the seat
BASH_USER_ID = "106316defa0e7ba26537f2f4f95ee21cddfa9d216aa01da5ebe11b6328282438"


def audit_rows(db, org_id: int) -> list[tuple]:
    return db.execute("SELECT action, outcome, actor_id, target_id, token_id, request_id,"
                      " source_ip FROM audit_log WHERE org_id = %s AND action = 'content.read'"
                      " ORDER BY audit_id", (org_id,)).fetchall()


def content_of(body: dict) -> dict:
    """Merge every item's decrypted content into one {attribute: [values]} map."""
    merged: dict = {}
    for item in body["items"]:
        for key, value in item["content"].items():
            merged.setdefault(key, []).append(value)
    return merged


@pytest.fixture
def people_of(db, org):
    return {
        "admin": make_user(db, org, "boss@example.com", "admin"),
        "alice": make_user(db, org, "Alice@Example.com", "member"),
        "bob": make_user(db, org, "bob@example.com", "member"),
    }


@pytest.mark.parametrize("path", ["/api/v1/sessions/{session_id}/content", "/api/v1/audit",
                                  "/api/v1/usage?group_by=colour",
                                  "/api/v1/export/sessions.csv"])
def test_no_read_api_answer_may_be_cached_or_sniffed(client, org, people_of, path):
    session_id = ingest_session(client, org, WRITE_SESSION)

    response = client.get(path.format(session_id=session_id),
                          headers=people_of["admin"].headers)

    assert response.status_code in (200, 400)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_admin_reads_content_decrypted_and_the_read_is_audited(client, db, org, people_of):
    session_id = ingest_session(client, org, WRITE_SESSION)
    admin = people_of["admin"]

    response = client.get(f"/api/v1/sessions/{session_id}/content", headers=admin.headers)

    assert response.status_code == 200
    content = content_of(response.get_json())
    assert content["prompt"] == ["Please WRITEFILE hello"]
    assert content["response"] == ["Done. secret-answer-42"]
    assert any("hello.py" in value for value in content["tool_input"])
    assert content["file_path"] == ["/home/dev/acme-app/hello.py"]
    times = [item["time"] for item in response.get_json()["items"]]
    assert times == sorted(times)
    rows = audit_rows(db, org.org.org_id)
    assert len(rows) == 1
    action, outcome, actor, target, token_id, request_id, source_ip = rows[0]
    assert (action, outcome, actor, target) == ("content.read", "allowed", "boss@example.com",
                                                session_id)
    assert token_id is not None and request_id == response.headers["X-Request-ID"]
    assert source_ip


def test_session_owner_reads_own_session_by_email_case_insensitively(client, db, org, people_of):
    session_id = ingest_session(client, org, WRITE_SESSION)

    response = client.get(f"/api/v1/sessions/{session_id}/content",
                          headers=people_of["alice"].headers)

    assert response.status_code == 200
    assert audit_rows(db, org.org.org_id)[0][:3] == ("content.read", "allowed", "alice@example.com")


def test_other_member_gets_403_and_a_denied_audit_row(client, db, org, people_of):
    session_id = ingest_session(client, org, WRITE_SESSION)

    response = client.get(f"/api/v1/sessions/{session_id}/content",
                          headers=people_of["bob"].headers)

    assert response.status_code == 403
    assert "prompt" not in response.get_data(as_text=True)
    assert [row[:3] for row in audit_rows(db, org.org.org_id)] == [
        ("content.read", "denied", "bob@example.com")]


def test_linked_identity_makes_a_session_the_members_own(client, db, org, people_of):
    from mojule import people

    session_id = ingest_session(client, org, BASH_SESSION)
    bob = people_of["bob"]
    assert client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=bob.headers).status_code == 403

    people.link_identity(db, bob.user, "user_id", BASH_USER_ID)

    assert client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=bob.headers).status_code == 200


def test_a_linked_id_does_not_open_a_session_whose_seat_is_someone_elses(client, db, org,
                                                                         people_of):
    # Alice's session also names her install (user.id), which an admin linked to Bob: the
    # session's seat is her email, so it stays hers; Bob gets the install's own sessions.
    from mojule import people

    alices = ingest_session(client, org, WRITE_SESSION)
    installs = ingest_session(client, org, BASH_SESSION)
    assert db.execute("SELECT seat_identity, user_id FROM sessions WHERE org_id = %s AND"
                      " session_id = %s", (org.org.org_id, alices)).fetchone() == (
        "alice@example.com", BASH_USER_ID)
    bob = people_of["bob"]
    people.link_identity(db, bob.user, "user_id", BASH_USER_ID)
    window = "from=2026-11-01&to=2026-12-01"

    alices_content = client.get(f"/api/v1/sessions/{alices}/content", headers=bob.headers)
    installs_content = client.get(f"/api/v1/sessions/{installs}/content", headers=bob.headers)
    listed = client.get(f"/api/v1/sessions?{window}", headers=bob.headers).get_json()
    exported = client.get(f"/api/v1/export/events.ndjson?{window}",
                          headers=bob.headers).get_data(as_text=True)

    assert alices_content.status_code == 403
    assert installs_content.status_code == 200
    assert [row["session_id"] for row in listed["sessions"]] == [installs]
    assert {json.loads(line)["session_id"] for line in exported.splitlines()} == {installs}
    assert client.get(f"/api/v1/sessions/{alices}", headers=bob.headers).status_code == 404


def test_an_event_stored_without_a_session_is_its_own_seats(client, db, org, people_of):
    # Before migration 0008 an event without session.id was stored without a session; the
    # events export still gives it to its own seat, and to no one else.
    ingest_session(client, org, WRITE_SESSION)
    ingest_session(client, org, BASH_SESSION)
    db.execute("UPDATE log_events SET session_id = NULL WHERE org_id = %s", (org.org.org_id,))
    window = "from=2026-11-01&to=2026-12-01"

    def exported(who: str, user: str = "") -> set[str | None]:
        lines = client.get(f"/api/v1/export/events.ndjson?{window}&user={user}",
                           headers=people_of[who].headers).get_data(as_text=True)
        return {json.loads(line)["seat_identity"] for line in lines.splitlines()}

    assert exported("alice") == {"alice@example.com"}
    assert exported("bob") == set()
    assert exported("admin", "ALICE@example.com") == {"alice@example.com"}
    assert exported("admin", BASH_USER_ID) == {BASH_USER_ID}
    assert exported("admin") == {"alice@example.com", BASH_USER_ID}


def a_later_record(session: str, **attributes: str) -> dict:
    """The session's logs with their first record a second later, and ``attributes``
    (dots as underscores) added to it or in place of its own."""
    logs = json.loads(fixture_bytes(session, "logs"))
    record = logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["timeUnixNano"] = str(int(record["timeUnixNano"]) + 10**9)
    for name, value in attributes.items():
        key = name.replace("_", ".")
        record["attributes"] = [item for item in record["attributes"] if item["key"] != key]
        record["attributes"].append({"key": key, "value": {"stringValue": value}})
    return logs


def age_sessions(db, org, minutes: int) -> None:
    db.execute("UPDATE sessions SET stored_at = stored_at - make_interval(mins => %s)"
               " WHERE org_id = %s", (minutes, org.org.org_id))


def test_a_later_batch_naming_another_seat_does_not_hand_over_the_session(client, db, org,
                                                                         people_of):
    # Anyone holding the org's ingest token could send one more record for a session
    # without an email (an API-key sign-in), naming their own: the session became theirs,
    # content included. Past its first ten minutes, not even with the session's install id.
    session_id = ingest_session(client, org, BASH_SESSION)
    age_sessions(db, org, 11)
    logs = a_later_record(BASH_SESSION, user_email="bob@example.com")
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202

    response = client.get(f"/api/v1/sessions/{session_id}/content",
                          headers=people_of["bob"].headers)

    assert response.status_code == 403
    assert db.execute("SELECT user_email, user_id FROM sessions WHERE org_id = %s"
                      " AND session_id = %s", (org.org.org_id, session_id)).fetchone() \
        == (None, BASH_USER_ID)
    assert client.get("/api/v1/sessions?from=2026-11-01&to=2026-12-01",
                      headers=people_of["bob"].headers).get_json()["sessions"] == []
    # Nor do the events of the session: the record naming Bob is its seat's, not his.
    assert client.get("/api/v1/export/events.ndjson?from=2026-11-01&to=2026-12-01",
                      headers=people_of["bob"].headers).get_data(as_text=True) == ""


def test_a_young_session_takes_the_email_of_a_later_record_of_its_own_install(
        client, db, org, people_of):
    # Claude Code leaves user.email off some records of a signed-in session (about a
    # quarter when launched from Claude Desktop): the first to arrive may lack it.
    session_id = ingest_session(client, org, BASH_SESSION)
    assert client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=people_of["bob"].headers).status_code == 403

    logs = a_later_record(BASH_SESSION, user_email="Bob@example.com")
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202

    assert db.execute("SELECT seat_identity, user_email, user_id FROM sessions"
                      " WHERE org_id = %s AND session_id = %s",
                      (org.org.org_id, session_id)).fetchone() \
        == ("bob@example.com", "Bob@example.com", BASH_USER_ID)
    assert client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=people_of["bob"].headers).status_code == 200
    listed = client.get("/api/v1/sessions?from=2026-11-01&to=2026-12-01",
                        headers=people_of["bob"].headers).get_json()["sessions"]
    assert [item["session_id"] for item in listed] == [session_id]
    by_user = client.get("/api/v1/usage?from=2026-11-01&to=2026-12-01&group_by=user",
                         headers=people_of["admin"].headers).get_json()
    assert [row["key"]["user"] for row in by_user["rows"]] == ["bob@example.com"]
    # Every event of the session is now Bob's, those sent before the email came included,
    # and the user filter picks the session by its seat, as the row above names it.
    exported = client.get("/api/v1/export/events.ndjson?from=2026-11-01&to=2026-12-01",
                          headers=people_of["bob"].headers).get_data(as_text=True)
    stored = db.execute("SELECT count(*) FROM log_events WHERE org_id = %s AND session_id = %s",
                        (org.org.org_id, session_id)).fetchone()[0]
    assert len(exported.splitlines()) == stored > 1
    admin = people_of["admin"].headers
    for user, expected in (("BOB%40example.com", [session_id]), (BASH_USER_ID, [])):
        picked = client.get(f"/api/v1/sessions?from=2026-11-01&to=2026-12-01&user={user}",
                            headers=admin).get_json()["sessions"]
        assert [item["session_id"] for item in picked] == expected


def test_a_request_whose_first_record_lacks_the_email_gives_the_session_its_email(
        client, db, org, people_of):
    logs = json.loads(fixture_bytes(BASH_SESSION, "logs"))
    last = logs["resourceLogs"][-1]["scopeLogs"][-1]["logRecords"][-1]
    last["attributes"].append({"key": "user.email", "value": {"stringValue": "bob@example.com"}})
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202

    assert db.execute("SELECT seat_identity, user_email, user_id FROM sessions"
                      " WHERE org_id = %s", (org.org.org_id,)).fetchall() \
        == [("bob@example.com", "bob@example.com", BASH_USER_ID)]


@pytest.mark.parametrize("claim", [
    {"user_email": "bob@example.com", "user_id": "another-install"},
    {"user_account_uuid": "acct-bob", "user_id": "another-install"},
])
def test_a_young_session_is_not_handed_to_a_record_of_another_install(client, db, org,
                                                                      people_of, claim):
    session_id = ingest_session(client, org, BASH_SESSION)
    logs = a_later_record(BASH_SESSION, **claim)
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202

    assert db.execute("SELECT seat_identity, user_email FROM sessions"
                      " WHERE org_id = %s AND session_id = %s",
                      (org.org.org_id, session_id)).fetchone() == (BASH_USER_ID, None)
    assert client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=people_of["bob"].headers).status_code == 403


def test_a_session_with_an_email_keeps_it_when_a_record_of_another_email_comes(
        client, db, org, people_of):
    session_id = ingest_session(client, org, WRITE_SESSION)
    logs = a_later_record(WRITE_SESSION, user_email="bob@example.com")
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202

    assert db.execute("SELECT seat_identity FROM sessions WHERE org_id = %s"
                      " AND session_id = %s", (org.org.org_id, session_id)).fetchone() \
        == ("alice@example.com",)


def test_a_seat_named_by_enduser_id_is_the_members_with_that_email(client, db, org, people_of):
    # What the README advises for API-key, Bedrock, Vertex and Foundry sign-ins, which send
    # no email: OTEL_RESOURCE_ATTRIBUTES="enduser.id=bob@example.com".
    logs = json.loads(fixture_bytes(BASH_SESSION, "logs"))
    for resource in logs["resourceLogs"]:
        resource["resource"]["attributes"].append(
            {"key": "enduser.id", "value": {"stringValue": "Bob@Example.com"}})
    assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202
    session_id = json.loads((FIXTURES / "claude-code-2.1.328" / BASH_SESSION /
                             "claude-result.json").read_text())["session_id"]

    def read(who):
        return client.get(f"/api/v1/sessions/{session_id}/content",
                          headers=people_of[who].headers).status_code

    listed = client.get("/api/v1/sessions?from=2026-11-01&to=2026-12-01",
                        headers=people_of["bob"].headers).get_json()["sessions"]
    assert (read("bob"), read("alice"), read("admin")) == (200, 403, 200)
    assert [row["session_id"] for row in listed] == [session_id]


def test_an_enduser_email_is_one_seat_however_it_is_typed(client, db, org, people_of):
    # A directory may give the address as Bob@Example.com, another machine as typed: the
    # seat is the lower-case email, which the user filter (and the Users page) names.
    for spelling, session in (("Bob@Example.com", BASH_SESSION), ("BOB@example.com",
                                                                  WRITE_SESSION)):
        logs = json.loads(fixture_bytes(session, "logs"))
        for resource in logs["resourceLogs"]:
            resource["resource"]["attributes"] = [
                item for item in resource["resource"]["attributes"]
                if item["key"] != "user.email"] + [
                {"key": "enduser.id", "value": {"stringValue": spelling}}]
            for scope in resource["scopeLogs"]:
                for record in scope["logRecords"]:
                    record["attributes"] = [item for item in record["attributes"]
                                            if item["key"] != "user.email"]
        assert client.post("/v1/logs", json=logs, headers=org.headers).status_code == 202
    window = "from=2026-11-01&to=2026-12-01"
    admin = people_of["admin"].headers

    users = client.get(f"/api/v1/usage?{window}&group_by=user", headers=admin).get_json()
    picked = {spelling: client.get(f"/api/v1/sessions?{window}&user={spelling}",
                                   headers=admin).get_json()["sessions"]
              for spelling in ("bob@example.com", "Bob@Example.com")}

    assert [row["key"] for row in users["rows"]] == [{"user": "bob@example.com"}]
    assert [len(sessions) for sessions in picked.values()] == [2, 2]
    assert db.execute("SELECT DISTINCT seat_identity FROM log_events WHERE org_id = %s",
                      (org.org.org_id,)).fetchall() == [("bob@example.com",)]


def test_admin_of_another_org_gets_404_like_a_missing_session(client, db, org, people_of):
    session_id = ingest_session(client, org, WRITE_SESSION)
    stranger_org = make_org(db)
    stranger = make_user(db, stranger_org, "mallory@example.com", "admin")

    other = client.get(f"/api/v1/sessions/{session_id}/content", headers=stranger.headers)
    missing = client.get("/api/v1/sessions/no-such-session/content", headers=stranger.headers)

    assert other.status_code == missing.status_code == 404
    assert other.get_json()["message"] == missing.get_json()["message"]
    assert [row[1] for row in audit_rows(db, stranger_org.org.org_id)] == ["not_found", "not_found"]
    assert audit_rows(db, org.org.org_id) == []


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic Ym9zczpwYXNz"},
])
def test_no_credential_gets_401_and_no_audit_row(client, db, org, headers):
    session_id = ingest_session(client, org, WRITE_SESSION)

    response = client.get(f"/api/v1/sessions/{session_id}/content", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_ingest_token_never_reads_and_user_token_never_ingests(client, org, people_of):
    session_id = ingest_session(client, org, WRITE_SESSION)

    read = client.get(f"/api/v1/sessions/{session_id}/content",
                      headers={"Authorization": f"Bearer {org.token}"})
    write = client.post("/v1/logs", data=b"{}", headers={
        **people_of["admin"].headers, "Content-Type": "application/json"})

    assert read.status_code == 401
    assert write.status_code == 401


def test_revoked_user_token_is_refused(client, db, org, people_of):
    from mojule import people

    session_id = ingest_session(client, org, WRITE_SESSION)
    admin = people_of["admin"]
    people.revoke_user_token(db, admin.user, admin.token[:12])

    response = client.get(f"/api/v1/sessions/{session_id}/content", headers=admin.headers)

    assert response.status_code == 401


def test_content_read_fails_closed_when_the_audit_cannot_be_written(client, db, org, people_of):
    session_id = ingest_session(client, org, WRITE_SESSION)
    db.execute("REVOKE INSERT ON audit_log FROM mojule_app")
    try:
        response = client.get(f"/api/v1/sessions/{session_id}/content",
                              headers=people_of["admin"].headers)
    finally:
        db.execute("GRANT INSERT ON audit_log TO mojule_app")

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "WRITEFILE" not in response.get_data(as_text=True)
    assert audit_rows(db, org.org.org_id) == []


def test_content_under_a_master_key_not_configured_reads_as_unreadable_not_tampered(
        client, config, org, people_of):
    # A restore with the wrong MOJULE_MASTER_KEY is the server's configuration: calling
    # every value tampered sent admins looking for an attack.
    session_id = ingest_session(client, org, WRITE_SESSION)
    with app_client(config, MASTER_KEY=generate_master_key()) as wrong:
        body = wrong.get(f"/api/v1/sessions/{session_id}/content",
                         headers=people_of["admin"].headers).get_json()

    items = body["items"]
    assert any(item["unreadable"] for item in items)
    assert not any(item["tampered"] or item["content"] for item in items)
    assert "Please WRITEFILE hello" not in str(body)
    assert all(set(item["unreadable"]).isdisjoint(item["purged"]) for item in items)


def test_ciphertext_moved_to_another_row_or_org_reads_as_tampered(client, db, org, other_org,
                                                                   people_of):
    session_id = ingest_session(client, org, WRITE_SESSION)
    org_id = org.org.org_id
    # Copy the prompt's ciphertext over the response's, as an attacker with SQL access might.
    db.execute("""UPDATE content_values AS target SET ciphertext = source.ciphertext
                    FROM content_values AS source
                   WHERE target.org_id = %(org)s AND source.org_id = %(org)s
                     AND target.attribute = 'response' AND source.attribute = 'prompt'""",
               {"org": org_id})

    body = client.get(f"/api/v1/sessions/{session_id}/content",
                      headers=people_of["admin"].headers).get_json()

    tampered = [item for item in body["items"] if item["tampered"]]
    assert [item["tampered"] for item in tampered] == [["response"]]
    assert "response" not in tampered[0]["content"]
    assert "Please WRITEFILE hello" not in str(tampered)

    # The same ciphertexts moved wholesale into another org do not open there either (the
    # same records have other record ids there: matched by time and attribute).
    other_admin = make_user(db, other_org, "eve@example.com", "admin")
    ingest_session(client, other_org, WRITE_SESSION)
    db.execute("""UPDATE content_values AS target SET ciphertext = source.ciphertext
                    FROM content_values AS source
                   WHERE target.org_id = %(other)s AND source.org_id = %(org)s
                     AND target.attribute = source.attribute AND target.signal = source.signal
                     AND target.time = source.time""",
               {"org": org_id, "other": other_org.org.org_id})
    moved = client.get(f"/api/v1/sessions/{session_id}/content",
                       headers=other_admin.headers).get_json()
    assert all(not item["content"] for item in moved["items"])
    assert sum(len(item["tampered"]) for item in moved["items"]) > 0
