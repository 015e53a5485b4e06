"""Dashboard sign-in: the session cookie, redirects, throttling, signing out, the API kept apart.

Plain Flask test client; the pages themselves are driven in Chromium by test_dashboard_browser.
"""
from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from types import SimpleNamespace

import pytest

from mojule import create_app, orgs, people
from mojule.auth import user_token_or_signed_in
from mojule.crypto import generate_master_key
from mojule.dashboard import logins, session_secret
from mojule.dashboard.logins import ACCOUNT_LIMIT, ADDRESS_LIMIT, WINDOW
from mojule.db import close_pool
from tests import conftest
from tests.conftest import make_user
from tests.ingest_support import app_client

PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def person(db, test_org, email: str, role: str = "member") -> conftest.TestUser:
    """A user of ``test_org`` with a dashboard password (PASSWORD) and an API token."""
    created = make_user(db, test_org, email, role)
    people.set_password(db, created.user, PASSWORD)
    return created


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    return CSRF_FIELD.search(html).group(1)


def sign_in(client, test_org, email: str, password: str = PASSWORD, address: str = "127.0.0.1",
            base_url: str = "http://localhost", **fields):
    """Sign in through the form, as a browser at ``address`` would; return the answer."""
    where = {"environ_base": {"REMOTE_ADDR": address}, "base_url": base_url}
    page = client.get("/sign-in", **where)
    form = {"csrf_token": csrf_of(page.text), "org": test_org.org.slug, "email": email,
            "password": password, "tz": "Europe/Paris", **fields}
    return client.post("/sign-in", data=form, **where)


def sign_out(client) -> None:
    """Sign out through the button on the overview, keeping the browser's other cookies."""
    assert client.post("/sign-out", data={"csrf_token": csrf_of(client.get("/").text)}
                       ).status_code == 302


def admin_signed_in(app, db, test_org, email: str = "boss@example.com"):
    """A browser signed in as a new admin of ``test_org``."""
    person(db, test_org, email, "admin")
    browser = app.test_client()
    sign_in(browser, test_org, email)
    return browser


def session_cookie_header(response) -> str:
    return next(header for header in response.headers.getlist("Set-Cookie")
                if header.startswith("mojule_session="))


@pytest.fixture
def admin(db, org) -> conftest.TestUser:
    return person(db, org, "admin@example.com", "admin")


def test_page_without_sign_in_redirects_to_sign_in_with_the_page_to_return_to(client):
    response = client.get("/sessions?user=alice%40example.com")

    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Fsessions%3Fuser%3Dalice%2540example.com"


def test_sign_in_goes_on_to_next_and_the_pages_open(client, org, admin):
    response = sign_in(client, org, "ADMIN@example.com ", next="/sessions")

    assert response.status_code == 302
    assert response.headers["Location"] == "/sessions"
    for path in ("/", "/sessions", "/users", "/connect", "/admin/tokens", "/admin/members",
                 "/admin/settings", "/admin/audit", "/admin/security", "/admin/license"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "admin@example.com" in page.text


@pytest.mark.parametrize("who, landing", [("admin", "/admin/members?x=1"), ("member", "/")])
def test_an_admin_link_signs_a_member_in_to_the_overview_not_a_403(client, db, org, who,
                                                                   landing):
    person(db, org, f"{who}@example.com", who)

    response = sign_in(client, org, f"{who}@example.com", next="/admin/members?x=1")

    assert response.headers["Location"] == landing
    assert client.get(landing).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "/sign-in?next=/", "/\t/evil.example",
                                    "/\n/evil.example", "/\r\n/evil.example", "/ /evil.example"])
def test_sign_in_only_goes_on_to_a_page_of_this_site(client, org, admin, target):
    response = sign_in(client, org, "admin@example.com", next=target)

    assert response.headers["Location"] == "/"


def test_session_cookie_is_httponly_and_samesite_lax_and_secure_only_over_https(app, org, admin):
    plain = sign_in(app.test_client(), org, "admin@example.com")
    secure = sign_in(app.test_client(), org, "admin@example.com", base_url="https://localhost")

    for response in (plain, secure):
        cookie = session_cookie_header(response)
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
    assert "Secure" not in session_cookie_header(plain)
    assert "Secure" in session_cookie_header(secure)


def test_forwarded_proto_counts_only_from_a_trusted_proxy(config, org, admin):
    app = create_app({**config, "TRUSTED_PROXIES": (ip_network("10.0.0.0/8"),)})
    try:
        answers = {}
        for peer in ("10.1.2.3", "192.0.2.7"):
            client = app.test_client()
            page = client.get("/sign-in", environ_base={"REMOTE_ADDR": peer})
            answers[peer] = client.post(
                "/sign-in", headers={"X-Forwarded-Proto": "https"},
                environ_base={"REMOTE_ADDR": peer},
                data={"csrf_token": csrf_of(page.text), "org": org.org.slug,
                      "email": "admin@example.com", "password": PASSWORD})
        proxied, spoofed = answers.values()
    finally:
        close_pool(app)

    assert "Secure" in session_cookie_header(proxied)
    assert "Secure" not in session_cookie_header(spoofed)


def test_wrong_password_unknown_email_and_unknown_org_get_the_same_answer(client, org, admin):
    wrong = sign_in(client, org, "admin@example.com", "not the password")
    unknown = sign_in(client, org, "nobody@example.com")
    page = client.get("/sign-in")
    no_org = client.post("/sign-in", data={"csrf_token": csrf_of(page.text), "org": "no-such-org",
                                           "email": "admin@example.com", "password": PASSWORD})

    for response in (wrong, unknown, no_org):
        assert response.status_code == 401
        assert "The org, email or password is wrong." in response.text
        assert not any(header.startswith("mojule_session=") and "sid" in header
                       for header in response.headers.getlist("Set-Cookie"))
    assert client.get("/").status_code == 302


def test_failed_sign_ins_lock_the_email_for_that_address_even_with_the_right_password(
        client, db, org, admin):
    for _ in range(ADDRESS_LIMIT):
        assert sign_in(client, org, "admin@example.com", "guess", address="192.0.2.1").status_code == 401

    locked = sign_in(client, org, "admin@example.com", address="192.0.2.1")
    elsewhere = sign_in(client, org, "admin@example.com", address="192.0.2.2")

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    assert 0 < int(locked.headers["Retry-After"]) <= WINDOW.total_seconds()
    assert elsewhere.status_code == 302
    # The failure that locked it says so in the audit trail; the refusal after it is not
    # audited (a flood of them would be).
    denied = db.execute("SELECT reason, details FROM audit_log WHERE org_id = %s"
                        " AND action = 'dashboard.sign_in' AND outcome = 'denied'"
                        " ORDER BY audit_id", (org.org.org_id,)).fetchall()
    locked_until = datetime.fromisoformat(denied[-1][1]["locked_until"])
    assert timedelta(0) < locked_until - datetime.now(UTC) <= WINDOW
    assert [reason for reason, _ in denied] == ["wrong password"] * (ADDRESS_LIMIT - 1) + [
        f"wrong password; sign-in locked until {locked_until:%Y-%m-%d %H:%M} UTC"]


def test_parallel_wrong_passwords_are_counted_one_at_a_time(config, db, org, admin):
    # Each attempt counted the failures before any parallel one had added its own: a
    # burst of guesses got more password checks than the limit allows.
    attempts = 3 * ADDRESS_LIMIT
    with app_client(config, POOL_SIZE=attempts) as client:
        page_forms = []
        for _ in range(attempts):
            browser = client.application.test_client()
            page = browser.get("/sign-in", environ_base={"REMOTE_ADDR": "192.0.2.7"})
            page_forms.append((browser, {"csrf_token": csrf_of(page.text),
                                         "org": org.org.slug, "email": "admin@example.com",
                                         "password": "guess"}))
        start = threading.Barrier(attempts)

        def guess(browser, form) -> int:
            start.wait()
            return browser.post("/sign-in", data=form,
                                environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code

        with ThreadPoolExecutor(attempts) as pool:
            answers = Counter(pool.map(lambda pair: guess(*pair), page_forms))

    assert answers == {401: ADDRESS_LIMIT, 429: attempts - ADDRESS_LIMIT}
    assert db.execute("SELECT count(*) FROM sign_in_failures WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == ADDRESS_LIMIT


def test_an_org_that_does_not_exist_locks_as_a_real_one_does(client, db, org, admin):
    # Sign-ins to a made-up org were refused however often they were tried, where a real
    # org's email locked after ADDRESS_LIMIT failures: the 429 told which orgs exist.
    made_up = SimpleNamespace(org=SimpleNamespace(slug=f"no-such-{uuid.uuid4().hex[:10]}"))
    tries = ADDRESS_LIMIT + 2

    real = [sign_in(client, org, "nobody@example.com", "guess", address="192.0.2.30")
            for _ in range(tries)]
    unknown = [sign_in(client, made_up, "nobody@example.com", "guess", address="192.0.2.30")
               for _ in range(tries)]

    expected = [401] * ADDRESS_LIMIT + [429] * (tries - ADDRESS_LIMIT)
    assert [answer.status_code for answer in unknown] == [answer.status_code for answer in real] \
        == expected
    assert "Too many failed sign-ins" in unknown[-1].text
    assert unknown[-1].headers["Retry-After"] == real[-1].headers["Retry-After"]
    # Another made-up org, or another email, counts on its own.
    other = SimpleNamespace(org=SimpleNamespace(slug=made_up.org.slug + "x"))
    assert sign_in(client, other, "nobody@example.com", "guess",
                   address="192.0.2.30").status_code == 401
    assert sign_in(client, made_up, "somebody@example.com", "guess",
                   address="192.0.2.30").status_code == 401


def test_made_up_org_names_cannot_share_a_count_with_another(client, org, admin):
    # Counted per "org/email", "S/x" with "y@z" and "S" with "x/y@z" shared a count: five
    # failures for the first locked the second at once when S did not exist, and not when
    # it did. No org's name holds a "/", so such names are refused uncounted.
    made_up = SimpleNamespace(org=SimpleNamespace(slug=f"no-such-{uuid.uuid4().hex[:10]}"))
    for test_org in (made_up, org):
        odd = SimpleNamespace(org=SimpleNamespace(slug=test_org.org.slug + "/x"))
        for _ in range(ADDRESS_LIMIT):
            assert sign_in(client, odd, "y@example.com", "guess",
                           address="192.0.2.32").status_code == 401
        assert sign_in(client, test_org, "x/y@example.com", "guess",
                       address="192.0.2.32").status_code == 401


def test_a_wrong_password_for_a_real_user_answers_the_page_a_made_up_one_gets(
        client, org, admin):
    # The audit of a real user's wrong password set the signed-in user, and the 401 page
    # showed the header of a signed-in one: the account exists, and its role.
    real = sign_in(client, org, "admin@example.com", "guess", address="192.0.2.33")
    made_up = sign_in(client, org, "nobody@example.com", "guess", address="192.0.2.33")

    assert real.status_code == made_up.status_code == 401
    assert "Sign out" not in real.text and "admin@example.com" not in strip_form(real.text)
    assert strip_form(real.text).replace("admin@example.com", "") == \
        strip_form(made_up.text).replace("nobody@example.com", "")


def strip_form(page: str) -> str:
    """The page without its CSRF token and the email typed into the form."""
    page = re.sub(r'name="csrf_token" value="[^"]*"', "", page)
    return re.sub(r'name="email"[^>]*>', "", page)


def test_deleting_an_org_removes_its_failed_sign_ins(client, db, org, admin):
    for _ in range(2):
        sign_in(client, org, "admin@example.com", "guess", address="192.0.2.31")
    assert db.execute("SELECT count(*) FROM sign_in_failures WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 2

    removed = orgs.delete_org(db, org.org)

    assert removed["sign_in_failures"] == 2
    assert db.execute("SELECT count(*) FROM sign_in_failures WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0


def test_failures_from_many_addresses_lock_the_email_everywhere(client, org, admin):
    for n in range(ACCOUNT_LIMIT):
        sign_in(client, org, "admin@example.com", "guess", address=f"198.51.100.{n}")

    assert sign_in(client, org, "admin@example.com", address="203.0.113.9").status_code == 429
    assert sign_in(client, org, "someone.else@example.com", address="203.0.113.9").status_code == 401


def test_a_browser_that_signed_in_before_is_not_locked_out_by_failures_elsewhere(
        app, db, org, admin):
    owner, guesser, stranger = app.test_client(), app.test_client(), app.test_client()
    person(db, org, "other@example.com")
    assert sign_in(owner, org, "admin@example.com", address="203.0.113.50").status_code == 302
    sign_out(owner)
    for email in ("admin@example.com", "other@example.com"):
        for n in range(ACCOUNT_LIMIT):
            sign_in(guesser, org, email, "guess", address=f"198.51.100.{n}")

    # The owner's browser, from an address it never used; someone else's, from another.
    assert sign_in(owner, org, "admin@example.com", address="203.0.113.51").status_code == 302
    assert sign_in(stranger, org, "admin@example.com", address="203.0.113.52").status_code == 429
    # The browser is remembered for the account it signed in as, not for another one.
    sign_out(owner)
    assert sign_in(owner, org, "other@example.com", address="203.0.113.51").status_code == 429


def test_a_remembered_browser_still_gets_only_an_addresses_guesses(app, org, admin):
    browser = app.test_client()
    signed_in = sign_in(browser, org, "admin@example.com", address="203.0.113.60")
    sign_out(browser)

    answers = [sign_in(browser, org, "admin@example.com", "guess",
                       address="203.0.113.61").status_code for _ in range(ADDRESS_LIMIT + 1)]

    assert answers == [401] * ADDRESS_LIMIT + [429]
    cookie = next(header for header in signed_in.headers.getlist("Set-Cookie")
                  if header.startswith("mojule_device="))
    assert "HttpOnly" in cookie and "Path=/sign-in" in cookie and "SameSite=Lax" in cookie
    assert "admin" not in cookie.lower() and str(org.org.org_id) + ":" not in cookie


def test_one_address_guessing_across_emails_is_locked_for_every_email(app, db, org, other_org,
                                                                     admin, monkeypatch):
    monkeypatch.setattr(logins, "SPRAY_LIMIT", 4)
    sprayer, remembered = app.test_client(), app.test_client()
    assert sign_in(remembered, org, "admin@example.com",
                   address="192.0.2.90").status_code == 302
    sign_out(remembered)
    # Real and made-up emails of a real org, and of an org that does not exist.
    targets = [(org, "admin@example.com"), (org, "nobody@example.com"),
               (other_org, f"{uuid.uuid4().hex}@example.com"),
               (SimpleNamespace(org=SimpleNamespace(slug="no-such-org")), "x@example.com")]
    answers = [sign_in(sprayer, target, email, "Winter2026!", address="192.0.2.91").status_code
               for target, email in targets]

    assert answers == [401] * 4
    locked = sign_in(sprayer, org, "admin@example.com", address="192.0.2.91")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert sign_in(sprayer, other_org, "someone@example.com",
                   address="192.0.2.91").status_code == 429
    # Another address, and a browser that signed in as that account before, still get in.
    assert sign_in(app.test_client(), org, "admin@example.com",
                   address="192.0.2.92").status_code == 302
    assert sign_in(remembered, org, "admin@example.com", address="192.0.2.91").status_code == 302


def test_a_sign_in_whose_email_field_holds_no_address_is_not_logged_nor_shown(client, org,
                                                                            caplog):
    typed = "Hunter2-MySecretPassw0rd"

    with caplog.at_level("INFO", logger="mojule.dashboard"):
        refused = sign_in(client, org, typed, "whatever")

    assert refused.status_code == 401
    assert typed not in caplog.text and "sign-in refused" in caplog.text
    assert typed not in refused.text


def test_failures_older_than_the_window_no_longer_count(client, db, org, admin):
    old = datetime.now(UTC) - WINDOW - timedelta(minutes=1)
    for _ in range(ADDRESS_LIMIT):
        db.execute("INSERT INTO sign_in_failures (org_id, email, source_ip, failed_at)"
                   " VALUES (%s, %s, %s, %s)", (org.org.org_id, "admin@example.com", "127.0.0.1", old))

    assert sign_in(client, org, "admin@example.com").status_code == 302


def test_a_successful_sign_in_is_audited_and_a_wrong_password_for_a_real_user_too(
        client, db, org, admin):
    sign_in(client, org, "admin@example.com", "guess")
    sign_in(client, org, "nobody@example.com", "guess")
    sign_in(client, org, "admin@example.com")

    rows = db.execute("SELECT action, outcome, actor_type, target_id FROM audit_log"
                      " WHERE org_id = %s ORDER BY audit_id", (org.org.org_id,)).fetchall()
    assert rows == [("dashboard.sign_in", "denied", "user", "admin@example.com"),
                    ("dashboard.sign_in", "ok", "user", "admin@example.com")]


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app, org, admin):
    client = app.test_client()
    sign_in(client, org, "admin@example.com")
    copied = client.get_cookie("mojule_session").value
    page = client.get("/")

    out = client.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
    thief = app.test_client()
    thief.set_cookie("mojule_session", copied)

    assert out.status_code == 302
    assert out.headers["Location"].startswith("/sign-in?signed_out=1&org=")
    assert client.get("/").status_code == 302
    assert thief.get("/").status_code == 302


def test_a_new_password_or_deleting_the_user_ends_their_sessions(app, db, org, admin):
    changed, deleted = app.test_client(), app.test_client()
    member = person(db, org, "member@example.com")
    sign_in(changed, org, "admin@example.com")
    sign_in(deleted, org, "member@example.com")

    people.set_password(db, admin.user, "another long password")
    people.delete_user(db, member.user)

    assert changed.get("/").status_code == 302
    assert deleted.get("/").status_code == 302


def test_a_role_change_applies_at_the_next_page(client, db, org, admin):
    member = person(db, org, "member@example.com")
    sign_in(client, org, "member@example.com")
    assert client.get("/admin/tokens").status_code == 403

    people.set_role(db, member.user, "admin")

    assert client.get("/admin/tokens").status_code == 200


def test_the_api_keeps_its_bearer_tokens_a_dashboard_cookie_opens_no_api(client, org, admin):
    sign_in(client, org, "admin@example.com")

    assert client.get("/api/v1/usage").status_code == 401
    assert client.get("/api/v1/usage", headers=admin.headers).status_code == 200


def test_cookie_signed_under_another_master_key_is_ignored(client, config, org, admin):
    sign_in(client, org, "admin@example.com")
    cookie = client.get_cookie("mojule_session").value
    other_app = create_app({**config, "MASTER_KEY": generate_master_key()})
    try:
        other = other_app.test_client()
        other.set_cookie("mojule_session", cookie)
        assert other.get("/").status_code == 302
    finally:
        close_pool(other_app)

    assert client.get("/").status_code == 200


def test_session_key_is_derived_from_the_master_key(master_key):
    assert session_secret(master_key) == session_secret(master_key)
    assert len(session_secret(master_key)) == 32
    assert session_secret(master_key) != session_secret(generate_master_key())


def test_pages_forbid_framing_outside_scripts_and_caching(client, org, admin):
    sign_in(client, org, "admin@example.com")
    response = client.get("/")

    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_an_export_view_takes_a_token_or_the_cookie_but_the_cookie_only_to_read(config, db, org,
                                                                              admin):
    app = create_app(config)
    app.add_url_rule("/api/v1/export/probe.csv", "probe", user_token_or_signed_in(
        lambda: "downloaded"), methods=("GET", "POST"))
    try:
        browser, other = app.test_client(), app.test_client()
        sign_in(browser, org, "admin@example.com")

        assert browser.get("/api/v1/export/probe.csv").text == "downloaded"
        assert browser.post("/api/v1/export/probe.csv").status_code == 401
        assert other.get("/api/v1/export/probe.csv").status_code == 401
        assert other.get("/api/v1/export/probe.csv", headers=admin.headers).status_code == 200
        assert browser.get("/api/v1/export/probe.csv",
                           headers={"Authorization": "Bearer mut_wrong"}).status_code == 401
    finally:
        close_pool(app)


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize("method, path, status", [("GET", "/nope", 404),
                                                  ("GET", "/admin/foo", 404),
                                                  ("GET", "/sign-out", 405)])
def test_a_browser_at_an_address_without_a_page_gets_a_page(client, org, admin, method, path,
                                                            status):
    sign_in(client, org, "admin@example.com")

    page = client.open(path, method=method, headers=BROWSER)
    script = client.open(path, method=method)

    assert page.status_code == status and page.mimetype == "text/html"
    assert "<h1>" in page.text and page.headers["Cache-Control"] == "no-store"
    assert script.status_code == status and script.is_json


@pytest.mark.parametrize("path", ["/api/v1/nope", "/v1/nope", "/api/ingest/otlp/v1/nope"])
def test_the_api_and_ingest_answer_json_to_a_browser_too(client, path):
    response = client.get(path, headers=BROWSER)

    assert response.status_code == 404 and response.is_json
