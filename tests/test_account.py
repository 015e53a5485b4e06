"""Your account page: changing one's own password, under the sign-in throttle."""
from __future__ import annotations

import re

import pytest

from mojule import people
from mojule.dashboard.logins import ADDRESS_LIMIT
from tests.test_dashboard import PASSWORD, csrf_of, person, sign_in

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def member(db, org):
    return person(db, org, "dev@example.com")


def change(client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    page = client.get("/account")
    return client.post("/account/password", data={
        "csrf_token": csrf_of(page.text), "current_password": current,
        "new_password": new, "confirm_password": new if confirm is None else confirm})


def test_a_member_changes_their_password_and_their_other_sessions_end(app, db, org, member):
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, org, "dev@example.com")
    sign_in(elsewhere, org, "dev@example.com", address="192.0.2.50")

    changed = change(here, PASSWORD)

    assert changed.status_code == 302
    assert "Password changed" in here.get(changed.headers["Location"]).text
    assert here.get("/").status_code == 200                     # this browser stays in
    assert elsewhere.get("/").status_code == 302                 # the other is signed out
    assert people.check_password(db, org.org.org_id, "dev@example.com", NEW_PASSWORD)
    assert people.check_password(db, org.org.org_id, "dev@example.com", PASSWORD) is None
    assert db.execute("SELECT action, actor_id, target_id FROM audit_log WHERE org_id = %s"
                      " AND action = 'user.set_password'", (org.org.org_id,)).fetchall() \
        == [("user.set_password", "dev@example.com", "dev@example.com")]


@pytest.mark.parametrize("current, new, confirm, message", [
    ("wrong password!", NEW_PASSWORD, None, "The current password is wrong."),
    (PASSWORD, "short", None, "at least 12 characters"),
    (PASSWORD, " " * 16, None, "not only spaces"),
    (PASSWORD, NEW_PASSWORD, "another passphrase", "confirmation differ"),
])
def test_a_refused_change_says_why_and_keeps_the_password(client, db, org, member, current,
                                                          new, confirm, message):
    sign_in(client, org, "dev@example.com")

    refused = change(client, current, new, confirm)

    assert refused.status_code == 400 and message in refused.text
    assert people.check_password(db, org.org.org_id, "dev@example.com", PASSWORD)
    assert client.get("/").status_code == 200


def test_guessing_the_current_password_is_throttled_as_sign_in_is(client, db, org, member):
    sign_in(client, org, "dev@example.com")

    answers = [change(client, f"guess {n}").status_code for n in range(ADDRESS_LIMIT + 1)]

    assert answers == [400] * ADDRESS_LIMIT + [429]
    assert change(client, PASSWORD).status_code == 429
    assert people.check_password(db, org.org.org_id, "dev@example.com", PASSWORD)


MUT_TOKEN = re.compile(r"mut_[0-9A-Za-z]{38}")


def post(client, path: str, **fields):
    return client.post(path, data={"csrf_token": csrf_of(client.get("/account").text), **fields})


def test_a_member_makes_an_api_token_for_their_own_usage_and_revokes_it(client, db, org,
                                                                       member):
    sign_in(client, org, "dev@example.com")

    created = post(client, "/account/tokens", name="weekly report", expires_days="30",
                   current_password=PASSWORD)

    token = MUT_TOKEN.search(created.text).group(0)
    (listed,) = [item for item in people.list_user_tokens(db, member.user)
                 if item.name == "weekly report"]
    page = client.get("/account").text
    assert created.status_code == 200 and "shown only this once" in created.text
    assert token not in page and f"{token[:12]}…" in page and "weekly report" in page
    assert listed.name == "weekly report"
    assert 29.9 < (listed.expires_at - listed.created_at).total_seconds() / 86400 <= 30
    api = client.application.test_client()              # no cookie: the token alone
    used = api.get("/api/v1/usage", headers={"Authorization": f"Bearer {token}"})
    assert used.status_code == 200

    revoked = post(client, f"/account/tokens/{listed.token_id}/revoke")
    again = post(client, f"/account/tokens/{listed.token_id}/revoke")

    assert revoked.status_code == again.status_code == 302
    assert f"Revoked the API token {token[:12]}…" in client.get(revoked.headers["Location"]).text
    assert api.get("/api/v1/usage",
                   headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert db.execute("SELECT action, actor_id, target_id FROM audit_log WHERE org_id = %s"
                      " AND action LIKE 'user_token.%%' ORDER BY audit_id",
                      (org.org.org_id,)).fetchall() == [
        ("user_token.create", "dev@example.com", "dev@example.com"),
        ("user_token.revoke", "dev@example.com", "dev@example.com")]


@pytest.mark.parametrize("fields, message", [
    ({"name": "  ", "expires_days": "30"}, "Name the token"),
    ({"name": "x" * 101, "expires_days": "30"}, "at most 100 characters"),
    ({"name": "two\nlines", "expires_days": "30"}, "on one line"),
    ({"name": "ci", "expires_days": "5"}, "must be one of"),
    ({"name": "ci", "expires_days": "-30"}, "must be one of"),
    # A token made in the dashboard expires: "never" is the CLI's alone.
    ({"name": "ci", "expires_days": "never"}, "must be one of"),
    ({"name": "ci", "expires_days": ""}, "must be one of"),
    # A session left open is not enough to make a token that outlives it.
    ({"name": "ci", "expires_days": "30", "current_password": "not my password"},
     "The current password is wrong."),
    ({"name": "ci", "expires_days": "30", "current_password": ""},
     "The current password is wrong."),
])
def test_a_bad_api_token_form_says_why_and_makes_no_token(client, db, org, member, fields,
                                                          message):
    sign_in(client, org, "dev@example.com")
    before = people.list_user_tokens(db, member.user)

    refused = post(client, "/account/tokens", **{"current_password": PASSWORD, **fields})

    assert refused.status_code == 400 and message in refused.text
    assert people.list_user_tokens(db, member.user) == before


def test_nobody_revokes_another_persons_api_token_from_their_account_page(client, db, org,
                                                                         member):
    admin = person(db, org, "boss@example.com", "admin")
    sign_in(client, org, "dev@example.com")

    (theirs,) = people.list_user_tokens(db, admin.user)

    refused = post(client, f"/account/tokens/{theirs.token_id}/revoke")

    assert refused.status_code == 404
    assert people.resolve_user_token(db, admin.token).revoked is False


def test_one_person_has_at_most_50_usable_api_tokens(client, db, org, member):
    for n in range(49):                 # person() made the first
        people.create_user_token(db, member.user, f"script {n}")
    sign_in(client, org, "dev@example.com")

    refused = post(client, "/account/tokens", name="one more", expires_days="30",
                   current_password=PASSWORD)
    people.revoke_user_token(db, member.user, people.list_user_tokens(db, member.user)[0]
                             .token_prefix)
    made = post(client, "/account/tokens", name="one more", expires_days="30",
                current_password=PASSWORD)

    assert refused.status_code == 400 and "You have 50 usable API tokens" in refused.text
    assert made.status_code == 200 and MUT_TOKEN.search(made.text)


def test_guessing_the_password_on_the_token_form_is_throttled_too(client, db, org, member):
    sign_in(client, org, "dev@example.com")
    before = people.list_user_tokens(db, member.user)

    answers = [post(client, "/account/tokens", name="x", expires_days="7",
                    current_password=f"guess {n}").status_code for n in range(ADDRESS_LIMIT)]
    locked = post(client, "/account/tokens", name="x", expires_days="7",
                  current_password=PASSWORD)

    assert answers == [400] * ADDRESS_LIMIT
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.text
    assert people.list_user_tokens(db, member.user) == before
