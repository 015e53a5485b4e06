"""An admin types their password again before changing the org when they last typed it
over reauth.RECENT ago ("sudo mode"): the form goes on once it is right, refused and
throttled when it is wrong, and audited either way."""
from __future__ import annotations

import html
import re

import pytest
from werkzeug.datastructures import MultiDict

from mojule import people
from mojule.dashboard import reauth
from mojule.dashboard.logins import ACCOUNT_LIMIT, ADDRESS_LIMIT
from tests.ingest_support import app_client
from tests.test_dashboard import (
    PASSWORD,
    admin_signed_in,
    csrf_of,
    person,
    sign_in,
    sign_out,
)
from tests.test_dashboard_forms import password_typed_long_ago

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')



@pytest.fixture
def admin_browser(app, db, org):
    return admin_signed_in(app, db, org)

def confirm_audits(db, org_id: int) -> list[tuple]:
    return db.execute("SELECT outcome, actor_id, reason, details->>'for' FROM audit_log"
                      " WHERE org_id = %s AND action = 'dashboard.confirm_password'"
                      " ORDER BY audit_id", (org_id,)).fetchall()


def add_member(browser, email: str, **extra):
    page = browser.get("/admin/members").text
    return browser.post("/admin/members", data={"csrf_token": csrf_of(page), "email": email,
                                                "role": "member", **extra},
                        headers={"Referer": "http://localhost/admin/members"})


def resend(browser, asked_page: str, password: str):
    """Submit the page that asks for the password, as the browser would."""
    form = re.search(r'<form method="post" action="([^"]+)" id="reauth-form".*?</form>', asked_page, re.DOTALL)
    fields = MultiDict((name, html.unescape(value)) for name, value in HIDDEN.findall(form[0]))
    fields.add(reauth.PASSWORD_FIELD, password)
    return browser.post(html.unescape(form[1]), data=fields)


def members_of(db, org) -> set[str]:
    return {user.email for user in people.list_users(db, org.org.org_id)}


def test_the_form_goes_on_once_the_password_is_typed_and_is_not_asked_again_soon(
        admin_browser, db, org):
    password_typed_long_ago(admin_browser)

    asked = add_member(admin_browser, "new@example.com")
    assert asked.status_code == 403 and "new@example.com" not in members_of(db, org)
    assert 'href="/admin/members">Cancel' in asked.text

    done = resend(admin_browser, asked.text, PASSWORD)

    assert done.status_code == 302 and "new@example.com" in members_of(db, org)
    assert confirm_audits(db, org.org.org_id) == [
        ("ok", "boss@example.com", None, "/admin/members")]
    assert add_member(admin_browser, "next@example.com").status_code == 302
    assert "next@example.com" in members_of(db, org)
    assert len(confirm_audits(db, org.org.org_id)) == 1


def test_a_wrong_password_changes_nothing_is_audited_and_is_throttled(admin_browser, db, org):
    password_typed_long_ago(admin_browser)
    asked = add_member(admin_browser, "new@example.com")

    refusals = [resend(admin_browser, asked.text, "not my password")
                for _ in range(ADDRESS_LIMIT)]
    throttled = resend(admin_browser, asked.text, PASSWORD)

    assert [refused.status_code for refused in refusals] == [400] * ADDRESS_LIMIT
    assert "The password is wrong." in refusals[0].text
    assert 'name="email" value="new@example.com"' in refusals[-1].text    # carried on again
    assert throttled.status_code == 429 and "Too many wrong passwords" in throttled.text
    assert "new@example.com" not in members_of(db, org)
    # The refusal while locked checks no password: not audited, as at sign-in.
    assert [row[:3] for row in confirm_audits(db, org.org.org_id)] == (
        [("denied", "boss@example.com", "wrong password")] * ADDRESS_LIMIT)


def test_signing_in_again_counts_as_typing_the_password(app, admin_browser, db, org):
    password_typed_long_ago(admin_browser)
    assert add_member(admin_browser, "first@example.com").status_code == 403

    sign_out(admin_browser)
    sign_in(admin_browser, org, "boss@example.com")

    assert add_member(admin_browser, "first@example.com").status_code == 302
    assert confirm_audits(db, org.org.org_id) == []


def test_a_member_is_refused_an_admin_change_without_being_asked_a_password(app, db, org):
    person(db, org, "dev@example.com")
    browser = app.test_client()
    sign_in(browser, org, "dev@example.com")
    password_typed_long_ago(browser)

    refused = add_member(browser, "new@example.com")
    connect = browser.post("/connect", data={"csrf_token": csrf_of(browser.get("/connect").text)})

    for answer in (refused, connect):
        assert answer.status_code == 403
        assert "Only org admins" in answer.text and "Confirm your password" not in answer.text


def test_reading_pages_and_ones_own_account_never_ask(admin_browser, db, org):
    password_typed_long_ago(admin_browser)

    pages = [admin_browser.get(path) for path in ("/admin/members", "/admin/audit", "/connect")]
    page = admin_browser.get("/account").text
    token = admin_browser.post("/account/tokens", data={
        "csrf_token": csrf_of(page), "name": "report", "expires_days": "30",
        "current_password": PASSWORD})

    assert [page.status_code for page in pages] == [200, 200, 200]
    assert token.status_code == 200 and "shown only this once" in token.text
    # The account form took the password, so an org change goes on without asking.
    assert add_member(admin_browser, "new@example.com").status_code == 302


@pytest.mark.parametrize("referer", ["https://evil.example/admin/members",
                                     "http://localhost//evil.example/phish"])
def test_a_cancel_link_never_leads_off_the_site(admin_browser, referer):
    # Another host, or this one's protocol-relative path, which a browser follows off it.
    password_typed_long_ago(admin_browser)
    page = admin_browser.get("/admin/members").text

    asked = admin_browser.post("/admin/members", data={
        "csrf_token": csrf_of(page), "email": "new@example.com", "role": "member"},
        headers={"Referer": referer})

    assert asked.status_code == 403 and 'href="/">Cancel' in asked.text


def test_strangers_failures_elsewhere_do_not_stop_the_signed_in_admin(app, admin_browser, db,
                                                                      org):
    # The failures from anywhere that lock an email at sign-in (all but a known browser)
    # would otherwise let anyone on the internet block every change an admin makes.
    stranger = app.test_client()
    for n in range(ACCOUNT_LIMIT):
        sign_in(stranger, org, "boss@example.com", "guess", address=f"198.51.100.{n}")
    password_typed_long_ago(admin_browser)

    asked = add_member(admin_browser, "new@example.com")
    done = resend(admin_browser, asked.text, PASSWORD)

    assert done.status_code == 302 and "new@example.com" in members_of(db, org)


def test_the_right_password_clears_the_typos_before_it(admin_browser, db, org):
    password_typed_long_ago(admin_browser)
    asked = add_member(admin_browser, "a@example.com")
    for _ in range(ADDRESS_LIMIT - 1):
        assert resend(admin_browser, asked.text, "typo").status_code == 400
    assert resend(admin_browser, asked.text, PASSWORD).status_code == 302

    password_typed_long_ago(admin_browser)
    asked = add_member(admin_browser, "b@example.com")
    assert resend(admin_browser, asked.text, "typo").status_code == 400
    assert resend(admin_browser, asked.text, PASSWORD).status_code == 302


def test_under_a_path_prefix_the_form_posts_back_to_the_app(config, db, org):
    prefix = "http://mojule.example/telemetry/"
    person(db, org, "boss@example.com", "admin")
    with app_client(config) as browser:
        sign_in(browser, org, "boss@example.com", base_url=prefix)
        with browser.session_transaction(base_url=prefix) as cookie:
            cookie["password_typed_at"] -= int(reauth.RECENT.total_seconds()) + 1
        page = browser.get("/admin/members", base_url=prefix).text
        asked = browser.post("/admin/members", base_url=prefix, data={
            "csrf_token": csrf_of(page), "email": "new@example.com", "role": "member"})

    assert asked.status_code == 403
    assert 'action="/telemetry/admin/members"' in asked.text
    assert 'href="/telemetry/">Cancel' in asked.text
