"""Your account page: changing one's own password, under the sign-in throttle."""
from __future__ import annotations

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
