"""Dashboard forms: every one refuses a missing or wrong CSRF token and changes nothing, and
every admin action does what it says and leaves the audit row the CLI would.
"""
from __future__ import annotations

import html
import re

import pytest

from mojule import holds, orgs, people
from mojule.dashboard import admin as admin_pages
from mojule.dashboard import reauth
from mojule.db import org_transaction
from tests.conftest import ingest_session
from tests.test_dashboard import PASSWORD, csrf_of, person, sign_in

# Every form of the dashboard: the path (with ids filled in) and the fields it sends.
FORMS = {
    "/sign-in": {"org": "{slug}", "email": "admin@example.com", "password": PASSWORD},
    "/sign-out": {},
    "/admin/tokens": {"name": "laptops"},
    "/admin/tokens/<int:token_id>/revoke": {},
    "/admin/tokens/<int:token_id>/rotate": {"overlap_days": "0"},
    "/admin/members": {"email": "new@example.com", "role": "member"},
    "/admin/members/<int:user_id>/role": {"role": "admin"},
    "/admin/members/<int:user_id>/identities": {"identity": "account_uuid:abc-123"},
    "/admin/members/<int:user_id>/password": {"password": "a brand new password"},
    "/admin/members/<int:user_id>/identities/unlink": {"identity": "account_uuid:abc-123"},
    "/admin/members/<int:user_id>/tokens/revoke": {},
    "/admin/members/<int:user_id>/delete": {},
    "/admin/members/<int:user_id>/password-link": {},
    "/admin/members/<int:user_id>/password-link/cancel": {},
    "/password": {"link": "mpl_0", "new_password": "a brand new password",
                  "confirm_password": "a brand new password"},
    "/admin/settings": {"retention_days": "7"},
    "/admin/settings/budget": {"monthly_budget_usd": "100"},
    "/admin/holds": {"kind": "seat", "target": "someone@example.com", "reason": "matter 7"},
    "/admin/holds/<int:hold_id>/release": {},
    "/admin/erasure": {"kind": "seat", "target": "nobody@example.com", "reason": "request 1"},
    "/connect": {},
    "/sessions/<path:session_id>/content": {},
    "/account/password": {"current_password": PASSWORD, "new_password": "a brand new password",
                          "confirm_password": "a brand new password"},
    "/account/tokens": {"name": "weekly report", "expires_days": "90",
                        "current_password": PASSWORD},
    "/account/tokens/<int:token_id>/revoke": {},
}
NEW_TOKEN = re.compile(r"mtk_[0-9A-Za-z]{38}")


def org_state(db, org_id: int) -> dict:
    """What any dashboard form could change in an org."""
    def rows(sql: str) -> list[tuple]:
        return db.execute(sql, {"org_id": org_id}).fetchall()

    # Each in a fixed order: an UPDATE moves a row in its table, and the state is the same.
    return {
        "audit": rows("SELECT audit_id FROM audit_log WHERE org_id = %(org_id)s"
                      " ORDER BY audit_id"),
        "tokens": rows("SELECT token_id, revoked_at, expires_at FROM ingest_tokens"
                       " WHERE org_id = %(org_id)s ORDER BY token_id"),
        "users": rows("SELECT user_id, email, role, password_hash FROM users"
                      " WHERE org_id = %(org_id)s ORDER BY user_id"),
        "identities": rows("SELECT kind, value FROM user_identities WHERE org_id = %(org_id)s"
                           " ORDER BY kind, value"),
        "org": rows("SELECT retention_days, monthly_budget_usd FROM orgs"
                    " WHERE org_id = %(org_id)s"),
        "sessions": rows("SELECT session_digest FROM dashboard_sessions"
                         " WHERE org_id = %(org_id)s ORDER BY session_digest"),
        "user_tokens": rows("SELECT token_id, revoked_at FROM user_tokens WHERE org_id = %(org_id)s"
                            " ORDER BY token_id"),
        "password_links": rows("SELECT link_id, used_at FROM password_links"
                               " WHERE org_id = %(org_id)s ORDER BY link_id"),
        "holds": rows("SELECT hold_id, released_at FROM legal_holds WHERE org_id = %(org_id)s"
                      " ORDER BY hold_id"),
        "content": rows("SELECT count(*) FROM content_values WHERE org_id = %(org_id)s"),
    }


def audit_actions(db, org_id: int) -> list[tuple]:
    return db.execute("SELECT action, outcome, actor_type, actor_id, target_id FROM audit_log"
                      " WHERE org_id = %s AND action NOT LIKE 'dashboard.%%' ORDER BY audit_id",
                      (org_id,)).fetchall()


@pytest.fixture
def signed_in_admin(app, client, db, org):
    """An org with an admin signed in, a member, and one recorded session."""
    person(db, org, "admin@example.com", "admin")
    member = person(db, org, "member@example.com")
    session_id = ingest_session(client, org, "write-tool-resource-attrs")
    sign_in(client, org, "admin@example.com")
    token_id = orgs.list_ingest_tokens(db, org.org)[0].token_id
    with org_transaction(db, org.org.org_id):
        hold = holds.place_hold(db, org.org.org_id, "matter 1", "cli", session_id=session_id)
    ids = {"token_id": token_id, "user_id": member.user.user_id, "session_id": session_id,
           "hold_id": hold.hold_id}
    return client, ids


def form_path(rule: str, ids: dict) -> str:
    return re.sub(r"<(?:int:|path:)?(\w+)>", lambda match: str(ids[match[1]]), rule)


def test_every_dashboard_form_is_covered_here(app):
    pages = {"signin", "overview", "sessions", "admin", "connect", "account", "security",
             "password_link", "holds", "erasure"}
    posts = {rule.rule for rule in app.url_map.iter_rules()
             if "POST" in rule.methods and rule.endpoint.split(".")[0] in pages}

    assert posts == set(FORMS)


@pytest.mark.parametrize("token", ["missing", "wrong"])
@pytest.mark.parametrize("rule", sorted(FORMS))
def test_form_without_the_right_csrf_token_is_refused_and_changes_nothing(
        signed_in_admin, db, org, rule, token):
    client, ids = signed_in_admin
    fields = {name: value.format(slug=org.org.slug) for name, value in FORMS[rule].items()}
    if token == "wrong":
        fields["csrf_token"] = csrf_of(client.get("/").text)[::-1]
    before = org_state(db, org.org.org_id)

    response = client.post(form_path(rule, ids), data=fields)

    assert response.status_code == 400
    assert "This form has expired or was not sent from this site" in response.text
    assert org_state(db, org.org.org_id) == before
    assert client.get("/").status_code == 200


def post_form(client, path: str, page: str, **fields):
    """Submit a form the way its page does: with the page's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **fields})


def test_creating_a_token_shows_it_once_and_it_ingests_then_revoking_it_refuses_it(
        signed_in_admin, db, org):
    client, _ = signed_in_admin
    created = post_form(client, "/admin/tokens", "/admin/tokens", name="laptops")
    token = NEW_TOKEN.search(created.text).group(0)
    listed = client.get("/admin/tokens")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    token_id = next(item.token_id for item in orgs.list_ingest_tokens(db, org.org)
                    if item.name == "laptops")

    assert created.status_code == 200
    assert "shown only this once" in created.text
    assert token not in listed.text and token[:12] in listed.text
    assert client.post("/v1/logs", data=b'{"resourceLogs": []}', headers=headers).status_code == 202

    revoked = post_form(client, f"/admin/tokens/{token_id}/revoke", "/admin/tokens")
    confirmed, later = client.get(revoked.headers["Location"]), client.get("/admin/tokens")

    assert revoked.status_code == 302
    assert f"Revoked the token {token[:12]}…" in confirmed.text
    assert "Revoked the token" not in later.text
    again = post_form(client, f"/admin/tokens/{token_id}/revoke", "/admin/tokens")
    assert again.status_code == 302
    assert client.post("/v1/logs", data=b'{"resourceLogs": []}', headers=headers).status_code == 401
    assert audit_actions(db, org.org.org_id)[-2:] == [
        ("token.create", "ok", "user", "admin@example.com", token[:12]),
        ("token.revoke", "ok", "user", "admin@example.com", str(token_id))]


def test_a_token_can_be_made_to_expire_and_be_rotated_from_the_tokens_page(
        signed_in_admin, db, org):
    client, ids = signed_in_admin
    created = post_form(client, "/admin/tokens", "/admin/tokens", name="pilot",
                        expires_days="90")
    (pilot,) = [item for item in orgs.list_ingest_tokens(db, org.org) if item.name == "pilot"]
    assert NEW_TOKEN.search(created.text).group(0)[:12] == pilot.token_prefix
    assert pilot.expires_at is not None
    pilot_rotated = post_form(client, f"/admin/tokens/{pilot.token_id}/rotate", "/admin/tokens",
                              overlap_days="7")
    pilot_replacement = NEW_TOKEN.search(pilot_rotated.text).group(0)
    assert f"rotated: replaced by {pilot_replacement[:12]}…" in pilot_rotated.text
    assert post_form(client, "/admin/tokens", "/admin/tokens", name="x",
                     expires_days="5").status_code == 400

    for overlap in ("", "never", "3"):
        assert post_form(client, f"/admin/tokens/{ids['token_id']}/rotate", "/admin/tokens",
                         overlap_days=overlap).status_code == 400
    assert org.token[:12] not in [item.token_prefix for item in orgs.list_ingest_tokens(
        db, org.org) if item.expires_at is not None]

    rotated = post_form(client, f"/admin/tokens/{ids['token_id']}/rotate", "/admin/tokens",
                        overlap_days="0")

    assert rotated.status_code == 200 and "is refused from now on" in rotated.text
    new = NEW_TOKEN.search(rotated.text).group(0)
    for token, status in ((new, 202), (org.token, 401)):
        assert client.post("/v1/logs", data=b"{}", headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json"}).status_code == status
    assert "expired" in client.get("/admin/tokens").text
    again = post_form(client, f"/admin/tokens/{ids['token_id']}/rotate", "/admin/tokens",
                      overlap_days="1")
    assert again.status_code == 400 and new[:12] in again.text
    assert audit_actions(db, org.org.org_id)[-1] == (
        "token.rotate", "ok", "user", "admin@example.com", str(ids["token_id"]))


def test_members_are_created_given_roles_identities_and_passwords_with_audit_rows(
        signed_in_admin, db, org):
    client, ids = signed_in_admin
    member_id = ids["user_id"]

    assert post_form(client, "/admin/members", "/admin/members",
                     email="New@Example.com", role="member").status_code == 302
    assert post_form(client, f"/admin/members/{member_id}/role", "/admin/members",
                     role="admin").status_code == 302
    assert post_form(client, f"/admin/members/{member_id}/identities", "/admin/members",
                     identity="account_uuid:abc-123").status_code == 302
    assert post_form(client, f"/admin/members/{member_id}/password", "/admin/members",
                     password="a brand new password").status_code == 302

    member = people.find_user(db, org.org.org_id, "member@example.com")
    assert member.role == "admin"
    assert people.seat_identities(db, member)["account_uuid"] == ["abc-123"]
    assert people.check_password(db, org.org.org_id, "member@example.com", "a brand new password")
    assert people.find_user(db, org.org.org_id, "new@example.com").role == "member"
    assert audit_actions(db, org.org.org_id) == [
        ("user.create", "ok", "user", "admin@example.com", "new@example.com"),
        ("user.set_role", "ok", "user", "admin@example.com", "member@example.com"),
        ("user.link", "ok", "user", "admin@example.com", "member@example.com"),
        ("user.set_password", "ok", "user", "admin@example.com", "member@example.com")]


@pytest.mark.parametrize("path, fields, message", [
    ("/admin/members", {"email": "not an email", "role": "member"}, "That is not an email address."),
    ("/admin/members", {"email": "member@example.com", "role": "member"}, "already exists"),
    ("/admin/members/{user_id}/identities", {"identity": "nonsense"}, "An identity is account_uuid"),
    ("/admin/members/{user_id}/password", {"password": "short"}, "at least 12 characters"),
    ("/admin/members/{user_id}/password", {"password": " " * 16}, "not only spaces"),
    ("/admin/members/{user_id}/identities", {"identity": "email:two words"},
     "That is not an email address."),
    ("/admin/settings", {"retention_days": "0"}, "from 1 to 36500"),
    # A digit to str.isdigit, refused by int(): a 500 before.
    ("/admin/settings", {"retention_days": "\u00b2"}, "from 1 to 36500"),
    ("/admin/tokens", {"name": "ci", "expires_days": "\u00b2"}, "must be one of"),
])
def test_a_bad_admin_form_says_why_and_changes_nothing(signed_in_admin, db, org, path, fields,
                                                      message):
    client, ids = signed_in_admin
    before = org_state(db, org.org.org_id)

    response = post_form(client, path.format(**ids), "/admin/members", **fields)

    assert response.status_code == 400
    assert message in response.text
    assert org_state(db, org.org.org_id) == before


def test_a_departing_member_is_offboarded_from_the_members_page(app, signed_in_admin, db,
                                                                org):
    client, ids = signed_in_admin
    member = people.find_user(db, org.org.org_id, "member@example.com")
    people.link_identity(db, member, "account_uuid", "abc-123")
    people.link_identity(db, member, "user_id", "install-9")
    kept = people.create_user_token(db, member, "report")
    spare = people.create_user_token(db, member, "spare")
    their_browser = app.test_client()
    sign_in(their_browser, org, "member@example.com", address="192.0.2.77")
    page = client.get("/admin/members")
    assert "3 usable" in page.text and "Revoke all" in page.text     # person() made one

    unlinked = post_form(client, f"/admin/members/{member.user_id}/identities/unlink",
                         "/admin/members", identity="user_id:install-9")
    assert unlinked.status_code == 302
    assert people.seat_identities(db, member)["user_id"] == []
    assert people.seat_identities(db, member)["account_uuid"] == ["abc-123"]

    revoked = post_form(client, f"/admin/members/{member.user_id}/tokens/revoke",
                        "/admin/members")
    assert "Revoked 3 API tokens of member@example.com" in client.get(
        revoked.headers["Location"]).text
    for token in (kept, spare):
        assert client.get("/api/v1/usage", headers={
            "Authorization": f"Bearer {token}"}).status_code == 401
    assert "3 usable" not in client.get("/admin/members").text
    assert people.revoke_all_user_tokens(db, member) == []

    me = people.find_user(db, org.org.org_id, "admin@example.com")
    refused = post_form(client, f"/admin/members/{me.user_id}/delete", "/admin/members")
    assert refused.status_code == 400 and "cannot remove yourself" in refused.text

    removed = post_form(client, f"/admin/members/{member.user_id}/delete", "/admin/members")
    assert removed.status_code == 302
    assert "Removed member@example.com" in client.get(removed.headers["Location"]).text
    assert [user.email for user in people.list_users(db, org.org.org_id)] == ["admin@example.com"]
    assert their_browser.get("/").status_code == 302           # signed out
    assert db.execute("SELECT count(*) FROM user_identities WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM sessions WHERE org_id = %s AND session_id = %s",
                      (org.org.org_id, ids["session_id"])).fetchone()[0] == 1
    (dropped,) = db.execute("SELECT details FROM audit_log WHERE org_id = %s"
                            " AND action = 'user.delete'", (org.org.org_id,)).fetchone()
    assert dropped == {"identities": ["account_uuid:abc-123"], "usable_tokens": 0}
    assert audit_actions(db, org.org.org_id) == [
        ("user.unlink", "ok", "user", "admin@example.com", "member@example.com"),
        *[("user_token.revoke", "ok", "user", "admin@example.com", "member@example.com")] * 3,
        ("user.delete", "ok", "user", "admin@example.com", "member@example.com")]


@pytest.mark.parametrize("identity, held_by, message, status", [
    ("account_uuid:bobs-seat", "bob@example.com",
     "account_uuid:bobs-seat is linked to bob@example.com, not member@example.com", 400),
    ("email:member@example.com", None, "member@example.com signs in with that email", 400),
    ("user_id:nobodys", None, "user_id:nobodys is not linked to member@example.com", 302),
])
def test_unlinking_says_what_it_did_when_the_identity_is_not_the_members(
        signed_in_admin, db, org, identity, held_by, message, status):
    client, ids = signed_in_admin
    bob = person(db, org, "bob@example.com")
    people.link_identity(db, bob.user, "account_uuid", "bobs-seat")
    before = org_state(db, org.org.org_id)

    answer = post_form(client, f"/admin/members/{ids['user_id']}/identities/unlink",
                       "/admin/members", identity=identity)
    shown = answer.text if status == 400 else client.get(answer.headers["Location"]).text

    assert answer.status_code == status
    assert message in html.unescape(shown) and "Unlinked" not in shown
    assert people.seat_identities(db, bob.user)["account_uuid"] == ["bobs-seat"]
    assert org_state(db, org.org.org_id) == before


@pytest.mark.parametrize("action, fields", [("delete", {}), ("role", {"role": "member"})])
def test_an_admin_demoted_meanwhile_can_no_longer_remove_or_demote(signed_in_admin, db, org,
                                                                    monkeypatch, action,
                                                                    fields):
    # Two admins removing or demoting each other at once: the second, once the first is
    # done, is not an admin any more, and the org keeps one.
    client, _ = signed_in_admin
    other = person(db, org, "other.admin@example.com", "admin")
    me = people.find_user(db, org.org.org_id, "admin@example.com")
    csrf = csrf_of(client.get("/admin/members").text)
    find_member = admin_pages._member

    def other_admin_lands_first(user_id):
        # After this request passed the admin check, before it changes anything.
        people.set_role(db, me, "member")
        return find_member(user_id)

    monkeypatch.setattr(admin_pages, "_member", other_admin_lands_first)

    answer = client.post(f"/admin/members/{other.user.user_id}/{action}",
                         data={"csrf_token": csrf, **fields})

    assert answer.status_code == 403
    assert people.find_user(db, org.org.org_id, "other.admin@example.com").role == "admin"


def test_an_admin_cannot_demote_themselves(signed_in_admin, db, org):
    client, _ = signed_in_admin
    me = people.find_user(db, org.org.org_id, "admin@example.com")

    response = post_form(client, f"/admin/members/{me.user_id}/role", "/admin/members",
                         role="member")

    assert response.status_code == 400
    assert people.find_user(db, org.org.org_id, "admin@example.com").role == "admin"


def test_retention_window_is_saved_and_audited(signed_in_admin, db, org):
    client, _ = signed_in_admin

    response = post_form(client, "/admin/settings", "/admin/settings", retention_days="30")

    assert response.status_code == 302
    assert orgs.find_org(db, org.org.slug).retention_days == 30
    assert audit_actions(db, org.org.org_id) == [
        ("org.update", "ok", "user", "admin@example.com", org.org.slug)]
    assert "content is kept 30 days" in client.get(response.headers["Location"]).text


def test_members_get_403_from_admin_pages_and_forms_and_nothing_changes(client, db, org):
    person(db, org, "member@example.com")
    sign_in(client, org, "member@example.com")
    before = org_state(db, org.org.org_id)

    for path in ("/admin/tokens", "/admin/members", "/admin/settings", "/admin/audit",
                 "/admin/security", "/admin/license"):
        assert client.get(path).status_code == 403, path
    assert post_form(client, "/admin/tokens", "/", name="mine").status_code == 403
    member = people.find_user(db, org.org.org_id, "member@example.com")
    for action in ("delete", "tokens/revoke"):
        assert post_form(client, f"/admin/members/{member.user_id}/{action}",
                         "/").status_code == 403
    assert post_form(client, "/connect", "/connect").status_code == 403
    assert org_state(db, org.org.org_id) == before
    assert 'href="/admin/tokens"' not in client.get("/").text


def test_a_confirmation_comes_from_the_form_that_was_sent_never_from_the_address(
        signed_in_admin, org):
    client, ids = signed_in_admin
    forged = "Your session expired: sign in again at https://evil.example"

    shown = client.get("/admin/members", query_string={"done": forged})
    changed = post_form(client, f"/admin/members/{ids['user_id']}/password", "/admin/members",
                        password="a new password, long enough")

    assert forged not in shown.text
    assert "Password set for" in client.get(changed.headers["Location"]).text


def password_typed_long_ago(client) -> None:
    """Age the signed-in browser's last password typing past reauth.RECENT."""
    with client.session_transaction() as cookie:
        cookie["password_typed_at"] -= int(reauth.RECENT.total_seconds()) + 1


# The forms that change the org, each asking for the admin's password unless it was typed
# within reauth.RECENT.
ORG_CHANGES = sorted(rule for rule in FORMS if rule.startswith("/admin/") or rule == "/connect")


@pytest.mark.parametrize("rule", ORG_CHANGES)
def test_an_org_change_asks_for_the_password_typed_long_ago_and_changes_nothing(
        signed_in_admin, db, org, rule):
    client, ids = signed_in_admin
    password_typed_long_ago(client)
    fields = {name: value.format(slug=org.org.slug) for name, value in FORMS[rule].items()}
    before = org_state(db, org.org.org_id)

    asked = post_form(client, form_path(rule, ids), "/admin/members", **fields)

    assert asked.status_code == 403
    assert "Confirm your password" in asked.text
    assert f'action="{form_path(rule, ids)}"' in asked.text
    for name, value in fields.items():
        assert f'name="{name}" value="{html.escape(value)}"' in asked.text
    assert org_state(db, org.org.org_id) == before


@pytest.mark.parametrize("name, problem", [
    ("x" * 101, "is 101 characters; at most 100"),
    ("laptops\u2028of the platform team", "must be printable text on one line"),
])
def test_an_ingest_token_name_the_cli_would_refuse_is_refused_not_cut(signed_in_admin, db, org,
                                                                      name, problem):
    client, _ = signed_in_admin
    before = org_state(db, org.org.org_id)

    refused = post_form(client, "/admin/tokens", "/admin/tokens", name=name)

    assert refused.status_code == 400 and f"The token&#39;s name {problem}." in refused.text
    assert org_state(db, org.org.org_id) == before
