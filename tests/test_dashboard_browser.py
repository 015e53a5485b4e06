"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, against a
live gunicorn. Skipped, saying why, only when Chromium or Playwright is not installed.

Screenshots of every page at desktop and phone width go to MOJULE_TEST_OUTPUT (default
test-output/screenshots).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from mojule import create_app, license, orgs, people, policy
from mojule.dashboard import SESSION_COOKIE, reauth, session_secret
from mojule.db import close_pool, connect
from tests import conftest
from tests.conftest import FIXTURES, ingest_session, make_org, make_user
from tests.installation import installation_fixture, site_fixture  # noqa: F401 (fixtures)
from tests.live import running_server
from tests.test_dashboard import PASSWORD

pytestmark = pytest.mark.live

CHROMIUM = Path(os.environ.get("MOJULE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = Path(os.environ.get("MOJULE_TEST_OUTPUT", "test-output/screenshots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
RECORDED = ("bash-tool", "failing-bash", "write-tool-resource-attrs")
# Recorded sessions are of 2026-11-26; the varied copies go back two weeks from there.
PAGE_WINDOW = "from=2026-11-10&to=2026-11-30"
API_WINDOW = "from=2026-11-10&to=2026-12-01&tz=Europe/Paris"


@dataclass
class Demo:
    org: conftest.TestOrg
    admin_token: str
    sessions: dict[str, str]


# -- data: the recorded sessions, plus copies moved in time, to other people, scaled ----------

NANOS = ("timeUnixNano", "startTimeUnixNano", "endTimeUnixNano", "observedTimeUnixNano")
SPAN_IDS = ("traceId", "spanId", "parentSpanId")
SCALED_METRICS = ("claude_code.cost.usage", "claude_code.token.usage",
                  "claude_code.lines_of_code.count")
SCALED_EVENT_KEYS = ("cost_usd", "cost_usd_micros", "input_tokens", "output_tokens",
                     "cache_read_tokens", "cache_creation_tokens")
RESOURCE_KEYS = {"logs": "resourceLogs", "metrics": "resourceMetrics", "traces": "resourceSpans"}


def varied_export(session: str, signal: str, session_id: str, email: str, department: str,
                  days_back: int, scale: int) -> bytes:
    """A recorded export as another session: new id, person and team, earlier, costlier."""
    recorded = json.loads((FIXTURES / "claude-code-2.1.328" / session / "claude-result.json")
                          .read_text())["session_id"]
    text = (FIXTURES / "claude-code-2.1.328" / session / f"{signal}.json").read_text()
    payload = json.loads(text.replace(recorded, session_id).replace("alice@example.com", email))
    shift = days_back * 86_400 * 10**9

    def walk(node, metric=None):
        if isinstance(node, list):
            for item in node:
                walk(item, metric)
        elif isinstance(node, dict):
            metric = node.get("name", metric)
            for key, value in node.items():
                if key in NANOS and int(value or 0):
                    node[key] = str(int(value) - shift)
                elif key in SPAN_IDS and value:
                    node[key] = hashlib.sha256(f"{session_id}{value}".encode()).hexdigest()[:len(value)]
                elif key == "asDouble" and metric in SCALED_METRICS:
                    node[key] = value * scale
                elif key == "attributes":
                    _vary_attributes(value, email, department, days_back, scale)
                else:
                    walk(value, metric)

    walk(payload)
    for resource in payload[RESOURCE_KEYS[signal]]:
        attributes = resource["resource"].setdefault("attributes", [])
        keys = {pair["key"] for pair in attributes}
        attributes.extend({"key": key, "value": {"stringValue": value}}
                          for key, value in (("user.email", email), ("department", department))
                          if key not in keys)
    return json.dumps(payload).encode()


def _vary_attributes(pairs: list[dict], email: str, department: str, days_back: int,
                     scale: int) -> None:
    for pair in pairs:
        key, value = pair["key"], pair["value"]
        if key == "department":
            pair["value"] = {"stringValue": department}
        elif key == "event.timestamp":
            moment = datetime.fromisoformat(value["stringValue"]) - timedelta(days=days_back)
            pair["value"] = {"stringValue": moment.isoformat().replace("+00:00", "Z")}
        elif key in SCALED_EVENT_KEYS and "doubleValue" in value:
            value["doubleValue"] *= scale
        elif key in SCALED_EVENT_KEYS and "intValue" in value:
            value["intValue"] = str(int(value["intValue"]) * scale)


@pytest.fixture(scope="module")
def demo(database_url, app_database_url, master_key) -> Demo:
    """An org with an admin, alice (a member) and three weeks of sessions."""
    with connect(database_url) as db:
        org = make_org(db)
        admin = make_user(db, org, "admin@example.com", "admin")
        alice = make_user(db, org, "alice@example.com", "member")
        make_user(db, org, "newcomer@example.com", "member")           # no password yet
        for user in (admin.user, alice.user):
            people.set_password(db, user, PASSWORD)
    app = create_app({"DATABASE_URL": app_database_url, "MASTER_KEY": master_key, "POOL_SIZE": 2})
    try:
        client = app.test_client()
        sessions = {name: ingest_session(client, org, name) for name in RECORDED}
        people_of = (("alice@example.com", "platform"), ("bob@example.com", "platform"),
                     ("carol@example.com", "data"))
        for n in range(18):
            email, department = people_of[n % 3]
            session_id = str(uuid.uuid4())
            for signal in ("logs", "metrics", "traces"):
                body = varied_export(RECORDED[n % 3], signal, session_id, email, department,
                                     days_back=1 + n % 14, scale=3 + (n * 7) % 40)
                response = client.post(f"/v1/{signal}", data=body, headers=org.headers)
                assert response.status_code == 202, response.get_json()
    finally:
        close_pool(app)
    return Demo(org, admin.token, sessions)


# -- the browser and the server --------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is not installed "
                                      "(pip install playwright; never `playwright install`)")
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def dashboard_server(app_database_url, master_key, tmp_path_factory):
    """gunicorn with two workers, connected as the app role."""
    environ = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    with running_server(environ, tmp_path_factory.mktemp("dashboard") / "gunicorn.log") as server:
        yield server


@pytest.fixture
def live(dashboard_server):
    """The module's server; what it logs during a test is shown if the test fails."""
    start = dashboard_server.log_size()
    yield dashboard_server
    sys.stderr.write(f"--- gunicorn output during this test ---\n"
                     f"{dashboard_server.log_text(start)}")


class Visitor:
    """One browser context (its own cookies) in the viewer's time zone, recording page errors."""

    def __init__(self, browser, live, viewport=DESKTOP):
        self.context = browser.new_context(viewport=viewport, timezone_id="Europe/Paris",
                                           locale="en-US")
        self.page = self.context.new_page()
        self.base = live.url
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error"
                     and self.errors.append(message.text))

    def go(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def sign_in(self, org: conftest.TestOrg, email: str, then: str = "/"):
        """Sign in with the keyboard alone, as someone not using a mouse would."""
        page = self.go(f"/sign-in?next={urllib.request.quote(then)}")
        page.focus("#org")
        page.keyboard.type(org.org.slug)
        page.keyboard.press("Tab")
        page.keyboard.type(email)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        return page

    def screenshot(self, name: str) -> None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        width = self.page.viewport_size["width"]
        self.page.screenshot(path=str(OUTPUT / f"{name}-{width}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitor(browser, live):
    opened = []

    def open_one(viewport=DESKTOP) -> Visitor:
        opened.append(Visitor(browser, live, viewport))
        return opened[-1]

    yield open_one
    for one in opened:
        one.close()


def api(live, path: str, token: str) -> dict:
    request = urllib.request.Request(live.url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def post_logs(live, token: str) -> int:
    request = urllib.request.Request(live.url + "/v1/logs", data=b'{"resourceLogs": []}',
                                     method="POST", headers={"Authorization": f"Bearer {token}",
                                                             "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def audit_count(database_url: str, org_id: int, action: str) -> list[tuple]:
    with connect(database_url) as db:
        return db.execute("SELECT outcome, actor_id FROM audit_log WHERE org_id = %s"
                          " AND action = %s ORDER BY audit_id", (org_id, action)).fetchall()


# -- the tests --------------------------------------------------------------------------------

def test_sign_in_and_the_overview_totals_equal_the_usage_api(visitor, live, demo):
    page = visitor().sign_in(demo.org, "admin@example.com", then=f"/?{PAGE_WINDOW}")
    shown = {element.get_attribute("data-metric"): element.get_attribute("data-value")
             for element in page.query_selector_all("[data-metric][data-value]")}
    totals = api(live, f"/api/v1/usage?{API_WINDOW}", demo.admin_token)["rows"][0]

    assert page.title() == "Overview · Mojule"
    assert Decimal(shown["cost_usd"]) == Decimal(totals["cost_usd"]) > 0
    assert json.loads(shown["tokens"]) == totals["tokens"]
    assert int(shown["sessions"]) == totals["sessions"] == 21
    assert int(shown["active_users"]) == totals["active_users"]
    assert int(shown["lines_added"]) == totals["lines_added"]
    cents = Decimal(totals["cost_usd"]).quantize(Decimal("0.01"))
    assert page.inner_text("[data-metric=cost_usd]") == f"${cents:,}"
    assert page.evaluate("document.querySelectorAll('canvas[data-chart]').length") == 4
    assert page.evaluate("[...document.querySelectorAll('canvas[data-chart]')]"
                         ".every(c => Chart.getChart(c) !== undefined)")


def test_a_member_cannot_open_another_users_session(visitor, demo):
    member = visitor()
    member.sign_in(demo.org, "alice@example.com")
    listing = member.go(f"/sessions?{PAGE_WINDOW}")
    listed, times = listing.content(), listing.inner_text("table")

    page = member.go(f"/sessions/{demo.sessions['bash-tool']}")

    assert demo.sessions["write-tool-resource-attrs"] in listed
    assert demo.sessions["bash-tool"] not in listed
    # The page's script shows times in the viewer's zone; the server sent them in UTC.
    assert "UTC" not in times and "UTC" in listed
    assert page.inner_text("h1") == "Not allowed"
    assert "belongs to someone else" in page.inner_text("main")
    member.screenshot("member-forbidden-session")


def test_show_content_reveals_it_and_adds_an_audit_row(visitor, database_url, demo):
    admin = visitor()
    admin.sign_in(demo.org, "admin@example.com")
    page = admin.go(f"/sessions/{demo.sessions['bash-tool']}")
    before = audit_count(database_url, demo.org.org.org_id, "content.read")

    assert "recorded in the org's audit trail" in page.inner_text(".content-card")
    assert "Please RUNCMD now" not in page.content()
    with page.expect_navigation():
        page.get_by_role("button", name="Show content").click()

    assert page.get_by_text("Please RUNCMD now").first.is_visible()
    assert page.get_by_test_id("content-notice").inner_text() == \
        "This read was recorded in the org's audit trail."
    assert audit_count(database_url, demo.org.org.org_id, "content.read") == \
        [*before, ("allowed", "admin@example.com")]
    admin.screenshot("session-content-revealed")


def test_creating_and_revoking_an_ingest_token(visitor, live, demo):
    admin = visitor()
    admin.sign_in(demo.org, "admin@example.com")
    page = admin.go("/admin/tokens")
    page.get_by_label("Name").fill("browser test laptops")
    with page.expect_navigation():
        page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("new-token").inner_text()
    admin.screenshot("admin-token-created")

    assert token.startswith("mtk_")
    assert post_logs(live, token) == 202

    page = admin.go("/admin/tokens")
    assert token not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Revoke browser test laptops").click()

    row = page.locator("tr", has_text="browser test laptops")
    assert "revoked" in row.inner_text()
    assert post_logs(live, token) == 401


def password_typed_long_ago(visitor: Visitor, master_key: str) -> None:
    """Age the browser's last password typing past reauth.RECENT, in its signed cookie."""
    signer = Flask(__name__)
    signer.secret_key = session_secret(master_key)
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    (cookie,) = [one for one in visitor.context.cookies() if one["name"] == SESSION_COOKIE]
    session = serializer.loads(cookie["value"])
    session["password_typed_at"] -= int(reauth.RECENT.total_seconds()) + 1
    visitor.context.add_cookies([{**cookie, "value": serializer.dumps(session)}])


def test_an_admin_types_the_password_again_and_the_change_goes_on(visitor, live, demo,
                                                                    master_key):
    admin = visitor()
    admin.sign_in(demo.org, "admin@example.com")
    password_typed_long_ago(admin, master_key)
    page = admin.go("/admin/tokens")
    page.get_by_label("Name").fill("after confirming")
    with page.expect_navigation():
        page.get_by_role("button", name="Create token").click()

    assert page.inner_text("h1") == "Confirm your password"
    assert page.get_by_test_id("new-token").count() == 0
    admin.screenshot("confirm-password")
    page.keyboard.type(PASSWORD)          # the password field has the focus
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.get_by_test_id("new-token").inner_text().startswith("mtk_")
    assert "after confirming" in page.inner_text("main")
    # The only error is the browser's note of the asking page's status.
    noted = "Failed to load resource: the server responded with a status of 403 (FORBIDDEN)"
    assert admin.errors == [noted]


def test_every_page_renders_cleanly_at_desktop_and_phone_width(visitor, demo, database_url):
    pages = {
        "overview": f"/?{PAGE_WINDOW}", "sessions": f"/sessions?{PAGE_WINDOW}",
        "sessions-by-cost": f"/sessions?{PAGE_WINDOW}&sort=cost",
        "overview-one-team": f"/?{PAGE_WINDOW}&attr:department=platform",
        "session": f"/sessions/{demo.sessions['write-tool-resource-attrs']}",
        "traces": f"/sessions/{demo.sessions['write-tool-resource-attrs']}/traces",
        "users": f"/users?{PAGE_WINDOW}", "tools": f"/tools?{PAGE_WINDOW}", "connect": "/connect",
        "admin-tokens": "/admin/tokens", "admin-members": "/admin/members",
        "admin-retention": "/admin/settings", "admin-holds": "/admin/holds",
        "admin-erasure": "/admin/erasure",
        "admin-audit": "/admin/audit",
        "admin-security": f"/admin/security?{PAGE_WINDOW}", "admin-license": "/admin/license",
        "account": "/account",
    }
    unlabelled = ("[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
                  ".filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.id)")
    overflow = "document.documentElement.scrollWidth - window.innerWidth"
    with connect(database_url) as db:    # the overview shows the month against it
        orgs.set_monthly_budget(db, demo.org.org, Decimal(5))
    for viewport in (DESKTOP, PHONE):
        signed_out = visitor(viewport)
        signed_out.go("/sign-in")
        signed_out.screenshot("sign-in")
        with connect(database_url) as db:
            secret, _ = people.create_password_link(db, people.find_user(
                db, demo.org.org.org_id, "newcomer@example.com"))
        page = signed_out.go(f"/password?link={secret}")
        signed_out.screenshot("password-link")
        assert page.evaluate(unlabelled) == [] and page.evaluate(overflow) <= 0
        admin, member = visitor(viewport), visitor(viewport)
        admin.sign_in(demo.org, "admin@example.com")
        member.sign_in(demo.org, "alice@example.com")
        page = admin.go(f"/sessions/{demo.sessions['write-tool-resource-attrs']}")
        with page.expect_navigation():    # Alice's account then lists the admin's read
            page.get_by_role("button", name="Show content").click()
        shots = [(admin, name, path) for name, path in pages.items()]
        shots += [(member, "member-overview", f"/?{PAGE_WINDOW}"), (member, "member-usage", "/users"),
                  (member, "member-account", "/account"),
                  (member, "member-content-reads", "/account/content-reads")]
        for who, name, path in shots:
            page = who.go(path)
            who.screenshot(name)
            assert page.evaluate(unlabelled) == [], name
            assert page.evaluate(overflow) <= 0, f"{name} scrolls sideways at {viewport['width']} px"
            if name == "member-content-reads":
                assert "admin@example.com" in page.get_by_test_id("content-reads").inner_text()
        for who in (signed_out, admin, member):
            assert who.errors == []


@pytest.fixture
def installation_server(site, installation, master_key, tmp_path):
    """A live server on the installation database of its own (license state is
    installation-wide), with an org and its admin; and a superuser connection to it."""
    org = make_org(site)
    admin = make_user(site, org, "admin@example.com", "admin")
    people.set_password(site, admin.user, PASSWORD)
    environ = {"MOJULE_DATABASE_URL": installation.app_url, "MOJULE_MASTER_KEY": master_key}
    with running_server(environ, tmp_path / "gunicorn.log") as server:
        yield server, org, site


def test_paused_banner_appears_on_every_page_while_ingestion_is_paused(browser,
                                                                       installation_server):
    server, org, site = installation_server
    keys = license.trusted_keys()
    admin = Visitor(browser, server)
    try:
        admin.sign_in(org, "admin@example.com")
        assert admin.page.get_by_test_id("paused-banner").count() == 0

        policy.pause_by_hand(site, "license renewal pending", "test")
        policy.record(site, policy.evaluate(site, keys), "cli", "test")
        for path in ("/", "/sessions", "/admin/license"):
            banner = admin.go(path).get_by_test_id("paused-banner")
            assert "Ingestion is paused:" in banner.inner_text()
            assert "license renewal pending" in banner.inner_text()
        admin.screenshot("admin-license-ingestion-paused")
        admin.go("/")
        admin.screenshot("overview-ingestion-paused")

        policy.resume_by_hand(site)
        policy.record(site, policy.evaluate(site, keys), "cli", "test")
        assert admin.go("/").get_by_test_id("paused-banner").count() == 0
    finally:
        admin.close()
