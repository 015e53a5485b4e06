"""Password links: an admin makes a one-time link with which a person sets their own
password (a new member, a forgotten password), and is signed in."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from mojule import people
from mojule.cli import cli
from mojule.config import parse_networks
from mojule.dashboard.logins import ADDRESS_LIMIT
from tests.ingest_support import app_client
from tests.test_dashboard import (
    PASSWORD,
    admin_signed_in,
    csrf_of,
    person,
    sign_in,
    sign_out,
)

NEW_PASSWORD = "my own passphrase at last"
LINK = re.compile(r'data-testid="new-link">([^<]+)<')


@pytest.fixture
def admin_browser(app, db, org):
    return admin_signed_in(app, db, org)


def make_link(browser, user_id: int) -> str:
    page = browser.get("/admin/members").text
    made = browser.post(f"/admin/members/{user_id}/password-link",
                        data={"csrf_token": csrf_of(page)})
    assert made.status_code == 200 and "shown only this once" in made.text
    url = html.unescape(LINK.search(made.text).group(1))
    return f"{urlsplit(url).path}?{urlsplit(url).query}"


def set_via(browser, path: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    form = browser.get(path)
    link = parse_qs(urlsplit(path).query)["link"][0]
    return browser.post("/password", data={
        "csrf_token": csrf_of(form.text), "link": link, "new_password": new,
        "confirm_password": new if confirm is None else confirm, "tz": "Europe/Paris"})


def test_a_new_member_sets_their_password_from_the_link_once_and_is_signed_in(
        app, db, org, admin_browser):
    created = people.create_user(db, org.org.org_id, "new@example.com", "member")
    path = make_link(admin_browser, created.user_id)
    newcomer = app.test_client()

    form = newcomer.get(path)
    done = set_via(newcomer, path)

    assert form.status_code == 200 and "new@example.com" in form.text
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert "new@example.com" in newcomer.get("/").text          # signed in
    assert people.check_password(db, org.org.org_id, "new@example.com", NEW_PASSWORD)
    again = app.test_client().get(path)
    assert again.status_code == 404 and "ask an admin" in again.text
    assert set_via_reused(app, path).status_code == 404
    rows = db.execute("SELECT action, actor_id, target_id, details FROM audit_log"
                      " WHERE org_id = %s AND action IN ('user.password_link',"
                      " 'user.set_password', 'dashboard.sign_in') AND outcome = 'ok'"
                      " ORDER BY audit_id", (org.org.org_id,)).fetchall()
    assert [row[:3] for row in rows][-3:] == [
        ("user.password_link", "boss@example.com", "new@example.com"),
        ("user.set_password", "new@example.com", "new@example.com"),
        ("dashboard.sign_in", "new@example.com", "new@example.com")]
    expires = datetime.fromisoformat(rows[-3][3]["expires_at"])
    assert 71.9 < (expires - datetime.now(UTC)).total_seconds() / 3600 <= 72


def set_via_reused(app, path: str):
    """Post the link's form again from a page fetched before it was used."""
    browser = app.test_client()
    page = browser.get("/sign-in")
    link = parse_qs(urlsplit(path).query)["link"][0]
    return browser.post("/password", data={
        "csrf_token": csrf_of(page.text), "link": link, "new_password": "another passphrase!",
        "confirm_password": "another passphrase!"})


def test_a_newer_link_or_a_password_set_otherwise_ends_the_older_link(app, db, org,
                                                                     admin_browser):
    member = person(db, org, "dev@example.com")
    first = make_link(admin_browser, member.user.user_id)
    second = make_link(admin_browser, member.user.user_id)

    assert app.test_client().get(first).status_code == 404
    assert app.test_client().get(second).status_code == 200
    people.set_password(db, member.user, "set by the CLI meanwhile")
    assert app.test_client().get(second).status_code == 404


@pytest.mark.parametrize("new, confirm, message", [
    ("short", None, "at least 12 characters"),
    (NEW_PASSWORD, "something else entirely", "confirmation differ"),
])
def test_a_refused_password_keeps_the_link_usable(app, db, org, admin_browser, new, confirm,
                                                 message):
    member = person(db, org, "dev@example.com")
    path = make_link(admin_browser, member.user.user_id)
    browser = app.test_client()

    refused = set_via(browser, path, new, confirm)

    assert refused.status_code == 400 and message in refused.text
    assert people.check_password(db, org.org.org_id, "dev@example.com", PASSWORD)
    assert set_via(browser, path).status_code == 302


@pytest.mark.parametrize("link", ["", "nonsense", "mpl_" + "A" * 38, "mut_" + "A" * 38])
def test_an_unknown_or_malformed_link_is_404_and_changes_nothing(client, db, org, link):
    person(db, org, "dev@example.com")

    assert client.get("/password", query_string={"link": link}).status_code == 404
    page = client.get("/sign-in")
    posted = client.post("/password", data={"csrf_token": csrf_of(page.text), "link": link,
                                            "new_password": NEW_PASSWORD,
                                            "confirm_password": NEW_PASSWORD})
    assert posted.status_code == 404
    assert people.check_password(db, org.org.org_id, "dev@example.com", PASSWORD)


def test_a_link_expires_and_goes_with_its_person(app, db, org, admin_browser):
    member = person(db, org, "dev@example.com")
    expired = make_link(admin_browser, member.user.user_id)
    db.execute("UPDATE password_links SET expires_at = now() WHERE org_id = %s",
               (org.org.org_id,))
    assert app.test_client().get(expired).status_code == 404

    kept = make_link(admin_browser, member.user.user_id)
    people.delete_user(db, member.user)
    assert app.test_client().get(kept).status_code == 404


def test_members_cannot_make_links_and_a_link_opens_only_its_own_person(app, db, org,
                                                                       admin_browser):
    member = person(db, org, "dev@example.com")
    other = person(db, org, "other@example.com")
    browser = app.test_client()
    sign_in(browser, org, "dev@example.com")
    page = browser.get("/").text

    refused = browser.post(f"/admin/members/{other.user.user_id}/password-link",
                           data={"csrf_token": csrf_of(page)})
    sign_out(browser)
    path = make_link(admin_browser, member.user.user_id)
    set_via(app.test_client(), path)

    assert refused.status_code == 403
    assert people.check_password(db, org.org.org_id, "other@example.com", PASSWORD)
    assert people.check_password(db, org.org.org_id, "dev@example.com", NEW_PASSWORD)


def test_the_cli_prints_a_link_that_works(app, db, org, cli_env):
    person(db, org, "dev@example.com")
    made = CliRunner().invoke(cli, ["user", "password-link", "--org", org.org.slug, "--email",
                                    "dev@example.com", "--base-url",
                                    "https://mojule.example.com/"], env=cli_env)
    bad = CliRunner().invoke(cli, ["user", "password-link", "--org", org.org.slug, "--email",
                                   "dev@example.com", "--base-url", "mojule.example.com"],
                             env=cli_env)

    url = made.stdout.strip().splitlines()[-1]
    assert made.exit_code == 0 and url.startswith("https://mojule.example.com/password?link=mpl_")
    assert bad.exit_code == 2 and "--base-url" in bad.output
    path = f"{urlsplit(url).path}?{urlsplit(url).query}"
    assert set_via(app.test_client(), path).status_code == 302


def test_a_pending_link_shows_on_the_members_page_and_an_admin_can_end_it(app, db, org,
                                                                          admin_browser):
    member = person(db, org, "dev@example.com")
    path = make_link(admin_browser, member.user.user_id)
    page = admin_browser.get("/admin/members").text
    assert "A password link works until" in page

    ended = admin_browser.post(f"/admin/members/{member.user.user_id}/password-link/cancel",
                               data={"csrf_token": csrf_of(page)})

    assert ended.status_code == 302
    assert app.test_client().get(path).status_code == 404
    assert "A password link works until" not in admin_browser.get("/admin/members").text
    assert db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s"
                      " AND action = 'user.password_link_cancel'",
                      (org.org.org_id,)).fetchone()[0] == 1


def test_an_admin_makes_no_link_for_themselves(db, org, admin_browser):
    me = people.find_user(db, org.org.org_id, "boss@example.com")
    page = admin_browser.get("/admin/members").text

    refused = admin_browser.post(f"/admin/members/{me.user_id}/password-link",
                                 data={"csrf_token": csrf_of(page)})

    assert refused.status_code == 400 and "your account page" in refused.text
    assert db.execute("SELECT count(*) FROM password_links WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0


def test_the_link_is_https_when_the_trusted_proxy_says_the_browser_used_https(
        config, db, org):
    person(db, org, "boss@example.com", "admin")
    member = person(db, org, "dev@example.com")
    with app_client(config, TRUSTED_PROXIES=parse_networks("127.0.0.1/32")) as browser:
        https = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"},
                 "headers": {"X-Forwarded-Proto": "https"}}
        sign_in(browser, org, "boss@example.com")
        page = browser.get("/admin/members", **https).text
        made = browser.post(f"/admin/members/{member.user.user_id}/password-link",
                            data={"csrf_token": csrf_of(page)}, **https)

    assert html.unescape(LINK.search(made.text).group(1)).startswith("https://")


def test_the_link_pages_send_no_referer_and_a_set_password_clears_the_lock(
        app, db, org, admin_browser):
    member = person(db, org, "dev@example.com")
    guesser = app.test_client()
    for n in range(ADDRESS_LIMIT):
        sign_in(guesser, org, "dev@example.com", f"guess {n}")
    path = make_link(admin_browser, member.user.user_id)
    browser = app.test_client()

    form = browser.get(path)
    set_via(browser, path)
    sign_out(browser)

    assert form.headers["Referrer-Policy"] == "no-referrer"
    assert sign_in(browser, org, "dev@example.com", NEW_PASSWORD).status_code == 302


def test_links_over_a_day_past_their_use_or_end_are_forgotten_as_new_ones_are_made(
        db, org, admin_browser):
    member = person(db, org, "dev@example.com")
    other = person(db, org, "other@example.com")
    for _ in range(3):
        make_link(admin_browser, member.user.user_id)          # two ended, one usable
    db.execute("UPDATE password_links SET used_at = now() - interval '2 days'"
               " WHERE org_id = %s AND used_at IS NOT NULL", (org.org.org_id,))
    usable = db.execute("SELECT link_id FROM password_links WHERE org_id = %s"
                        " AND used_at IS NULL", (org.org.org_id,)).fetchall()

    make_link(admin_browser, other.user.user_id)

    kept = db.execute("SELECT link_id, user_id, used_at IS NULL FROM password_links"
                      " WHERE org_id = %s ORDER BY link_id", (org.org.org_id,)).fetchall()
    assert kept[0][:2] == (usable[0][0], member.user.user_id)
    assert [(user_id, usable_now) for _, user_id, usable_now in kept] == [
        (member.user.user_id, True), (other.user.user_id, True)]
