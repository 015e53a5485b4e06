"""Dashboard pages show the API's numbers, each person only what is theirs, and content only
through the audited read.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from mojule import people
from mojule.config import parse_networks
from mojule.dashboard import admin as admin_pages
from mojule.dashboard import formats
from mojule.dashboard.web import MAX_DAYS
from tests.conftest import fixture_bytes, ingest_session, make_org
from tests.ingest_support import app_client
from tests.test_analytics import shifted
from tests.test_dashboard import csrf_of, person, sign_in

SESSIONS = ("bash-tool", "failing-bash", "write-tool-resource-attrs")
# The recorded sessions are of 2026-11-26; the pages take whole days in the viewer's zone.
PAGE_WINDOW = "from=2026-11-01&to=2026-11-30"
API_WINDOW = "from=2026-11-01&to=2026-12-01&tz=Europe/Paris"
METRIC = re.compile(r'data-metric="(\w+)" data-value="([^"]*)"')
ROW_ACTION = re.compile(r'<tr data-action="([^"]+)"')


@pytest.fixture
def loaded(client, db, org):
    """An org with the three recorded sessions, an admin, alice (a seat of one) and bob."""
    users = {"admin": person(db, org, "admin@example.com", "admin"),
             "alice": person(db, org, "alice@example.com"),
             "bob": person(db, org, "bob@example.com")}
    ids = {name: ingest_session(client, org, name) for name in SESSIONS}
    return users, ids


def figures(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in METRIC.findall(page)}


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_overview_totals_equal_the_usage_api(app, loaded, org, who):
    users, _ = loaded
    browser = app.test_client()
    sign_in(browser, org, f"{who}@example.com")

    shown = figures(browser.get(f"/?{PAGE_WINDOW}").text)
    api = browser.get(f"/api/v1/usage?{API_WINDOW}", headers=users[who].headers).get_json()
    totals = api["rows"][0]

    assert Decimal(shown["cost_usd"]) == Decimal(totals["cost_usd"]) > 0
    assert json.loads(shown["tokens"]) == totals["tokens"]
    assert int(shown["sessions"]) == totals["sessions"] == (3 if who == "admin" else 1)
    if who == "admin":
        assert int(shown["active_users"]) == totals["active_users"]
    else:   # "1 active user" says nothing to a member; their active time does
        assert "active_users" not in shown
        assert Decimal(shown["active_time_s"]) == Decimal(str(totals["active_time_s"]))
    assert int(shown["lines_added"]) == totals["lines_added"]
    assert int(shown["lines_removed"]) == totals["lines_removed"]


def test_the_team_choice_lists_the_attribute_keys_of_the_viewers_own_sessions(app, client,
                                                                             loaded, org):
    # alice's session again under another id, its department sent as cost_centre; and
    # a session of bob's own, which has a department only.
    _, ids = loaded
    session = ids["write-tool-resource-attrs"].encode()
    copies = {b"alice-second": {b'"department"': b'"cost_centre"'},
              b"bob-first": {b"alice@example.com": b"bob@example.com"}}
    for copy_id, changes in copies.items():
        for signal in ("logs", "metrics"):
            body = fixture_bytes("write-tool-resource-attrs", signal).replace(session, copy_id)
            for old, new in changes.items():
                body = body.replace(old, new)
            assert client.post(f"/v1/{signal}", data=body,
                               headers=org.headers).status_code == 202
    option = '<option value="cost_centre"'

    seen = {}
    for who in ("admin", "alice", "bob"):
        browser = app.test_client()
        sign_in(browser, org, f"{who}@example.com")
        page = browser.get(f"/?{PAGE_WINDOW}").text
        assert "Cost by team" in page
        seen[who] = option in page

    assert seen == {"admin": True, "alice": True, "bob": False}


def test_an_empty_range_says_when_telemetry_last_came_if_it_ever_did(app, client, db, loaded,
                                                                      org):
    sign_in(client, org, "admin@example.com")
    stranger = make_org(db)
    person(db, stranger, "new@example.com", "admin")
    newcomer = app.test_client()
    sign_in(newcomer, stranger, "new@example.com")

    quiet = client.get("/?from=2025-01-01&to=2025-01-31").text
    never = newcomer.get("/?from=2025-01-01&to=2025-01-31").text

    assert "Widen the dates" in quiet and 'datetime="2026-11-26' in quiet
    assert "Point Claude Code at Mojule" not in quiet
    assert "Point Claude Code at Mojule" in never and "Widen the dates" not in never


@pytest.mark.parametrize("details, shown", [
    ({}, ""),
    ({"name": "laptops", "expires_at": None}, "name: laptops · expires_at: —"),
    ({"identities": ["account_uuid:a", "user_id:b"], "usable_tokens": 2},
     "identities: account_uuid:a, user_id:b · usable_tokens: 2"),
    ({"identities": []}, "identities: none"),
    ({"role": {"from": "member"}}, 'role: {"from":"member"}'),
    ({"text": "x" * 400}, "text: " + "x" * 293 + "…"),
])
def test_audit_details_read_on_one_line_and_are_cut(details, shown):
    assert formats.audit_details(details) == shown


def test_the_audit_log_page_shows_each_rows_details(client, db, loaded, org):
    sign_in(client, org, "admin@example.com")
    page = client.get("/admin/tokens").text
    client.post("/admin/tokens", data={"csrf_token": csrf_of(page), "name": "<b>laptops</b>"})

    audit_page = client.get("/admin/audit").text

    assert "name: &lt;b&gt;laptops&lt;/b&gt; · expires_at: —" in audit_page


@pytest.mark.parametrize("seconds, shown", [(0, "0 s"), (0.3, "under 1 s"), (0.6, "1 s"),
                                            (200, "3 min 20 s"), (7500, "2 h 05 min")])
def test_durations_read_as_people_write_them(seconds, shown):
    assert formats.duration(seconds) == shown


def test_the_overview_exports_usage_by_the_team_attribute_it_shows(client, loaded, org):
    users, _ = loaded
    sign_in(client, org, "admin@example.com")

    page = client.get(f"/?{PAGE_WINDOW}&team=department").text
    link = re.search(r'<a href="([^"]+)" download>Usage by team \(department\)</a>', page)
    exported = client.get(html.unescape(link[1]))
    api = client.get(f"/api/v1/usage?{API_WINDOW}&group_by=attr:department",
                     headers=users["admin"].headers).get_json()["rows"]

    header, *lines = csv.reader(io.StringIO(exported.get_data(as_text=True), newline=""))
    assert exported.status_code == 200 and header[0] == "attr:department"
    assert sorted(line[0] for line in lines) == sorted(
        row["key"]["attr:department"] or "" for row in api)
    assert len(lines) == len(api) > 0


def test_a_page_refuses_a_period_longer_than_its_charts_show(client, loaded, org):
    # A chart has a point a day: 1970 to 9000 made millions, and the worker was killed.
    sign_in(client, org, "admin@example.com")
    longest = f"from=2020-01-01&to={(date(2020, 1, 1) + timedelta(MAX_DAYS - 1)).isoformat()}"

    refused = client.get("/?from=1970-01-01&to=9000-12-31")

    assert refused.status_code == 400 and f"at most {MAX_DAYS:,} days" in refused.text
    assert client.get(f"/sessions?{longest}").status_code == 200


def test_users_page_lists_each_seat_with_the_apis_cost(client, loaded, org):
    users, _ = loaded
    sign_in(client, org, "admin@example.com")

    page = client.get(f"/users?{PAGE_WINDOW}").text
    api = client.get(f"/api/v1/usage?{API_WINDOW}&group_by=user",
                     headers=users["admin"].headers).get_json()["rows"]

    for row in api:
        assert html.escape(row["key"]["user"]) in page
        cents = Decimal(row["cost_usd"]).quantize(Decimal("0.01"))
        assert f"${cents:,}" in page


TOOL_ROW = re.compile(r'<tr>\s*<th scope="row">([^<]+)<.*?</th>\s*<td class="num">([\d,]+)</td>'
                      r'\s*<td class="num">([^<]+)</td>\s*<td class="num">([\d,]+)</td>', re.DOTALL)


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_tools_page_lists_each_tool_with_the_apis_figures(client, loaded, org, who):
    users, _ = loaded
    sign_in(client, org, f"{who}@example.com")

    page = client.get(f"/tools?{PAGE_WINDOW}").text
    api = client.get(f"/api/v1/usage?{API_WINDOW}&group_by=tool",
                     headers=users[who].headers).get_json()["rows"]

    called = {row["key"]["tool"]: row for row in api
              if row["key"]["tool"] is not None and row["tool_calls"]}
    shown = {name: (calls, share, failed) for name, calls, share, failed in TOOL_ROW.findall(page)}
    assert called and set(shown) == set(called)
    for name, row in called.items():
        calls, share, failed = shown[name]
        assert int(calls.replace(",", "")) == row["tool_calls"]
        assert int(failed.replace(",", "")) == row["tool_failures"]
        assert share == formats.percent(row["tool_successes"], row["tool_calls"])
    # Most used first.
    order = [int(calls.replace(",", "")) for _, calls, _, _ in TOOL_ROW.findall(page)]
    assert order == sorted(order, reverse=True)
    assert 'aria-current="page"' in page.split('href="/tools"')[1][:40]


def test_tools_page_shows_code_edits_by_language_as_the_api_counts_them(client, loaded, org):
    users, _ = loaded
    sign_in(client, org, "admin@example.com")

    page = client.get(f"/tools?{PAGE_WINDOW}").text
    api = client.get(f"/api/v1/usage?{API_WINDOW}&group_by=tool,language",
                     headers=users["admin"].headers).get_json()["rows"]

    edits = [row for row in api if any(row["code_edit_decisions"].values())]
    assert edits
    table = page.split('data-testid="code-edits"')[1].split("</table>")[0]
    for row in edits:
        decisions = row["code_edit_decisions"]
        assert (f'<th scope="row">{row["key"]["tool"]}</th><td>{row["key"]["language"] or "—"}'
                f'</td><td class="num">{decisions["accepted"]}</td>') in table


def test_sessions_page_orders_by_cost_as_the_api_does(client, loaded, org):
    users, _ = loaded
    sign_in(client, org, "admin@example.com")

    page = client.get(f"/sessions?{PAGE_WINDOW}&sort=cost").text
    api = client.get(f"/api/v1/sessions?{API_WINDOW}&sort=cost",
                     headers=users["admin"].headers).get_json()["sessions"]

    shown = re.findall(r'aria-label="Session ([^"]+)"', page)
    assert shown == [row["session_id"] for row in api]
    assert '<option value="cost" selected>' in page
    assert "Older sessions" not in page
    # An order the page does not know is refused, as the API refuses it, not ignored.
    unknown = client.get(f"/sessions?{PAGE_WINDOW}&sort=costliest")
    assert unknown.status_code == 400 and "must be one of recent, cost" in unknown.text
    assert client.get(f"/sessions?{PAGE_WINDOW}&sort=recent").status_code == 200


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_overview_divides_the_cost_by_what_the_sessions_did(client, loaded, org, who):
    users, _ = loaded
    sign_in(client, org, f"{who}@example.com")

    page = client.get(f"/?{PAGE_WINDOW}").text
    (totals,) = client.get(f"/api/v1/usage?{API_WINDOW}",
                           headers=users[who].headers).get_json()["rows"]

    card = page.split('data-testid="unit-costs"')[1].split("</dl>")[0]
    shown = dict(re.findall(r"<dt>([^<]+)</dt><dd>(?:<span[^>]*>)?([^<]+)<", card))
    cost = Decimal(totals["cost_usd"])
    counts = {"Per session": totals["sessions"], "Per commit": totals["commits"],
              "Per pull request": totals["pull_requests"]}
    if who == "admin":
        counts["Per active user"] = totals["active_users"]
    assert set(counts) < set(shown)
    assert ("Per active user" in shown) == (who == "admin")
    for label, count in counts.items():
        assert shown[label] == (formats.usd(cost / count) if count else "—"), label
    assert totals["sessions"]


def test_a_member_sees_only_their_own_sessions(client, loaded, org):
    _, ids = loaded
    sign_in(client, org, "alice@example.com")

    page = client.get(f"/sessions?{PAGE_WINDOW}").text

    assert ids["write-tool-resource-attrs"] in page
    assert ids["bash-tool"] not in page and ids["failing-bash"] not in page


def test_a_member_cannot_open_another_users_session_nor_reveal_its_content(client, db, loaded,
                                                                           org):
    _, ids = loaded
    sign_in(client, org, "bob@example.com")
    page = client.get(f"/sessions/{ids['bash-tool']}")
    reveal = client.post(f"/sessions/{ids['bash-tool']}/content",
                         data={"csrf_token": csrf_of(client.get("/").text)})

    assert page.status_code == 403
    assert "belongs to someone else" in page.text
    assert reveal.status_code == 403
    # The revealed page's address, reloaded: the session's page, and no second read.
    reloaded = client.get(f"/sessions/{ids['bash-tool']}/content")
    assert reloaded.status_code == 303
    assert reloaded.headers["Location"].endswith(f"/sessions/{ids['bash-tool']}")
    assert "RUNCMD" not in reveal.text
    assert db.execute("SELECT outcome, actor_id FROM audit_log WHERE org_id = %s"
                      " AND action = 'content.read'", (org.org.org_id,)).fetchall() \
        == [("denied", "bob@example.com")]


def test_a_session_of_another_org_is_not_found(client, db, loaded, org):
    _, ids = loaded
    other = make_org(db)
    person(db, other, "admin@other.example", "admin")
    sign_in(client, other, "admin@other.example")

    assert client.get(f"/sessions/{ids['bash-tool']}").status_code == 404
    assert client.get("/sessions/no-such-session").status_code == 404


def test_session_page_shows_totals_and_timeline_without_content_until_revealed(
        client, db, loaded, org):
    users, ids = loaded
    sign_in(client, org, "alice@example.com")
    session_id = ids["write-tool-resource-attrs"]
    detail = client.get(f"/api/v1/sessions/{session_id}", headers=users["alice"].headers).get_json()

    page = client.get(f"/sessions/{session_id}").text
    revealed = client.post(f"/sessions/{session_id}/content",
                           data={"csrf_token": csrf_of(page)})

    assert figures(page)["cost_usd"] == detail["cost_usd"]
    assert "Permission" in page and "Write" in page
    for entry in detail["timeline"]:
        if entry["event_name"] == "api_request":
            assert f'<span class="request-cost">${Decimal(entry["cost_usd"]):,.6f}</span>' in page
    assert "recorded in the org's audit trail" in page
    assert "WRITEFILE" not in page
    assert revealed.status_code == 200
    assert "Please WRITEFILE hello" in revealed.text
    assert "This read was recorded in the org's audit trail." in revealed.text
    assert revealed.headers["Cache-Control"] == "no-store"
    rows = db.execute("SELECT outcome, actor_id, actor_type, token_id, target_id FROM audit_log"
                      " WHERE org_id = %s AND action = 'content.read'",
                      (org.org.org_id,)).fetchall()
    assert rows == [("allowed", "alice@example.com", "user", None, session_id)]


def test_export_buttons_carry_the_pages_filters(client, loaded, org):
    sign_in(client, org, "admin@example.com")

    overview = html.unescape(client.get(f"/?{PAGE_WINDOW}").text)
    sessions = html.unescape(client.get(f"/sessions?{PAGE_WINDOW}&user=alice%40example.com").text)

    assert f"/api/v1/export/usage.csv?group_by=day&{API_WINDOW.replace('/', '%2F')}" in overview
    assert "/api/v1/export/sessions.csv?user=alice%40example.com&attribute=department&" \
           f"{API_WINDOW.replace('/', '%2F')}" in sessions


def test_the_sessions_page_offers_recent_periods_that_keep_its_filters(client, loaded, org):
    sign_in(client, org, "admin@example.com")
    # A period that is not the last 30 days on any day the suite runs.
    page = html.unescape(client.get("/sessions?from=2025-01-01&to=2025-01-20&model=claude").text)

    (link,) = re.findall(r'href="(/sessions\?[^"]*)"[^>]*>Last 30 days<', page)
    args = dict(arg.split("=", 1) for arg in link.split("?", 1)[1].split("&"))
    chosen = client.get(link).text

    assert args["model"] == "claude"
    assert date.fromisoformat(args["to"]) - date.fromisoformat(args["from"]) == timedelta(29)
    assert re.search(r'aria-current="true">Last 30 days<', chosen)
    assert not re.search(r'aria-current="true">Last 30 days<', page)


def test_times_are_sent_as_utc_for_the_browser_to_show_in_its_zone(client, loaded, org):
    _, ids = loaded
    sign_in(client, org, "admin@example.com")

    page = client.get(f"/sessions/{ids['bash-tool']}").text

    assert re.search(r'<time datetime="2026-11-26T12:14:30\.\d+\+00:00" data-format="seconds">'
                     r"2026-11-26 12:14 UTC</time>", page)


def test_empty_org_pages_say_what_to_do_next(client, db, org):
    person(db, org, "admin@example.com", "admin")
    sign_in(client, org, "admin@example.com")

    for path in ("/", "/sessions", "/users", "/tools"):
        page = client.get(path).text
        assert 'href="/connect"' in page, path
        assert "Connect Claude Code" in page


def test_connect_page_gives_the_exact_settings_and_a_fresh_token_on_request(client, db, org):
    person(db, org, "admin@example.com", "admin")
    sign_in(client, org, "admin@example.com")

    page = html.unescape(client.get("/connect?content=1&attributes=department%3Dplatform").text)
    fresh = client.post("/connect", data={"csrf_token": csrf_of(page), "content": "1"}).text
    managed = re.search(r'id="managed"[^>]*>(.*?)</pre>', fresh, re.DOTALL)[1]
    managed = json.loads(html.unescape(managed))
    token = re.search(r"mtk_[0-9A-Za-z]{38}", fresh)[0]

    assert "export OTEL_EXPORTER_OTLP_PROTOCOL=http/json" in page
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost" in page
    assert "export OTEL_RESOURCE_ATTRIBUTES=department=platform" in page
    assert "export OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer mtk_PASTE" in page
    assert managed == {"env": {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {token}",
        "OTEL_LOG_USER_PROMPTS": "1", "OTEL_LOG_TOOL_DETAILS": "1"}}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert client.post("/v1/logs", data=b'{"resourceLogs": []}', headers=headers).status_code == 202


def test_connect_page_says_when_the_viewers_own_sessions_last_sent(app, loaded, org):
    # The recorded sessions end on 2026-11-26; bob has none. The token's last use is
    # written at most every 10 minutes, so it is not what the line shows.
    seen = {}
    for who in ("admin", "alice", "bob"):
        browser = app.test_client()
        sign_in(browser, org, f"{who}@example.com")
        line = re.search(r'<p class="status-line">(.*?)</p>',
                         browser.get("/connect").text, re.DOTALL)[1]
        seen[who] = re.search(r'datetime="([^"]+)"', line)[1][:10] if "datetime" in line \
            else line
    assert seen["admin"] == seen["alice"] == "2026-11-26"
    assert "Nothing received yet from your sessions" in seen["bob"]


def test_audit_log_page_shows_the_newest_first_a_page_at_a_time(client, db, loaded, org,
                                                                  monkeypatch):
    monkeypatch.setattr(admin_pages, "AUDIT_PAGE", 2)
    sign_in(client, org, "admin@example.com")
    for _ in range(3):
        client.post("/admin/tokens", data={"csrf_token": csrf_of(client.get("/admin/tokens").text),
                                           "name": "paging"})
    newest = [row[0] for row in db.execute(
        "SELECT action FROM audit_log WHERE org_id = %s ORDER BY audit_id DESC LIMIT 4",
        (org.org.org_id,))]

    first = client.get("/admin/audit")
    earlier = re.search(r'href="([^"]*before=\d+[^"]*)"[^>]*>Earlier entries', first.text)
    second = client.get(html.unescape(earlier[1]))

    shown = ROW_ACTION.findall(first.text) + ROW_ACTION.findall(second.text)
    assert shown == newest and "token.create" in shown


def test_audit_log_page_filters_by_actor(app, client, loaded, org):
    _, ids = loaded
    sign_in(client, org, "alice@example.com")
    client.post(f"/sessions/{ids['write-tool-resource-attrs']}/content",
                data={"csrf_token": csrf_of(client.get("/").text)})
    admin = app.test_client()
    sign_in(admin, org, "admin@example.com")

    page = admin.get("/admin/audit?actor=alice%40example.com").text

    assert page.count('data-action="content.read"') == 1
    assert 'data-action="dashboard.sign_in"' in page
    assert "admin@example.com" not in page.split("<tbody>")[1].split("</tbody>")[0]


def test_picking_a_team_keeps_every_page_and_export_to_its_sessions(client, loaded, org):
    users, ids = loaded
    sign_in(client, org, "admin@example.com")
    team = "attr:department=platform"
    everyone = html.unescape(client.get(f"/?{PAGE_WINDOW}").text)
    (picked,) = re.findall(r'<a href="([^"]+)" title="Show only department = platform">',
                           everyone)

    overview = client.get(picked).text
    api = client.get(f"/api/v1/usage?{API_WINDOW}&attr:department=platform",
                     headers=users["admin"].headers).get_json()["rows"][0]
    sessions = unquote(html.unescape(client.get(f"/sessions?{PAGE_WINDOW}&{team}").text))
    people = client.get(f"/users?{PAGE_WINDOW}&{team}").text
    exported = client.get(html.unescape(re.search(
        r'<a href="([^"]+)" download>Sessions</a>', overview)[1]))

    assert team in picked and "from=2026-11-01" in picked
    assert Decimal(figures(overview)["cost_usd"]) == Decimal(api["cost_usd"]) > 0
    assert int(figures(overview)["sessions"]) == api["sessions"] == 1
    assert 'data-testid="team-notice"' in overview and "department = platform" in overview
    assert ids["write-tool-resource-attrs"] in sessions and ids["bash-tool"] not in sessions
    assert re.search(rf'"/api/v1/export/sessions.csv\?[^"]*{team}', sessions)
    assert "alice@example.com" in people and "bob@example.com" not in people
    assert exported.status_code == 200
    (header, row) = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    # The overview's export names each session's team, as the page groups by it.
    assert dict(zip(header, row, strict=True))["attr:department"] == "platform"
    # The date forms and the presets keep the team; its notice drops it.
    assert 'name="attr:department" value="platform"' in overview
    assert re.search(rf'href="[^"]*{team}[^"]*"[^>]*>Last 7 days<', sessions)
    (dropped,) = re.findall(r'<a class="chip" href="([^"]+)" aria-label="Show every department"',
                            overview)
    assert "attr" not in html.unescape(dropped) and "from=2026-11-01" in html.unescape(dropped)


def test_a_session_shows_its_resource_attributes_and_the_sessions_export_names_them(
        client, loaded, org):
    _, ids = loaded
    sign_in(client, org, "admin@example.com")

    page = client.get(f"/sessions/{ids['write-tool-resource-attrs']}").text
    listed = html.unescape(client.get(f"/sessions?{PAGE_WINDOW}").text)
    shown = dict(re.findall(r"<div><dt>([^<]+)</dt><dd>([^<]*)</dd></div>",
                            page.split('data-testid="resource-attributes"')[1]))
    export = re.search(r'href="(/api/v1/export/sessions.csv\?[^"]+)"', listed)[1]

    assert shown["department"] == "platform" and shown["os.type"] == "linux"
    # The keys the org's sessions carried, standard ones left out.
    assert parse_qs(urlsplit(export).query)["attribute"] == ["department"]


def test_a_bad_team_is_a_400_page_naming_it(client, loaded, org):
    sign_in(client, org, "admin@example.com")

    refused = client.get(f"/sessions?{PAGE_WINDOW}&attr:department=a%00b")

    assert refused.status_code == 400 and "attr:department" in html.unescape(refused.text)


def test_connect_gives_the_address_the_browser_used_prefix_and_scheme_included(
        config, db, org):
    person(db, org, "admin@example.com", "admin")
    with app_client(config, TRUSTED_PROXIES=parse_networks("127.0.0.1/32")) as browser:
        behind = {"base_url": "http://mojule.example/telemetry/",
                  "environ_base": {"REMOTE_ADDR": "127.0.0.1"},
                  "headers": {"X-Forwarded-Proto": "https"}}
        sign_in(browser, org, "admin@example.com", base_url="http://mojule.example/telemetry/")
        page = html.unescape(browser.get("/connect", **behind).text)
        plain = html.unescape(browser.get("/connect", base_url="http://mojule.example/").text)

    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=https://mojule.example/telemetry\n" in page
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=http://mojule.example\n" in plain


def test_the_headline_figures_say_how_they_changed_on_the_days_before(client, loaded, org):
    users, ids = loaded
    # A copy of one session two days earlier: the previous period's only usage.
    earlier = str(uuid.uuid4())
    for signal in ("logs", "metrics"):
        payload = fixture_bytes("bash-tool", signal).decode().replace(ids["bash-tool"], earlier)
        moved = json.dumps(shifted(json.loads(payload), -2 * 24 * 3600 * 10**9))
        assert client.post(f"/v1/{signal}", data=moved, headers=org.headers).status_code == 202
    sign_in(client, org, "admin@example.com")

    def api(first: str, last: str) -> dict:
        return client.get(f"/api/v1/usage?from={first}&to={last}&tz=Europe/Paris",
                          headers=users["admin"].headers).get_json()["rows"][0]

    def expected(now, before) -> str:
        percent = round((Decimal(str(now)) - Decimal(str(before))) * 100 / Decimal(str(before)))
        return f"{'+' if percent > 0 else '−'}{abs(percent)}% on the previous 2 days"

    page = client.get("/?from=2026-11-25&to=2026-11-26").text
    now, before = api("2026-11-25", "2026-11-27"), api("2026-11-23", "2026-11-25")
    shown = dict(re.findall(r'data-change="(\w+)">([^<]+)<', page))
    alone = client.get("/?from=2026-11-26&to=2026-11-26").text    # nothing on the 25th

    assert before["sessions"] == 1 and now["sessions"] == 3
    assert shown["cost_usd"] == expected(now["cost_usd"], before["cost_usd"])
    assert shown["sessions"] == expected(3, 1) == "+200% on the previous 2 days"
    assert shown["tokens"] == expected(sum(now["tokens"].values()),
                                       sum(before["tokens"].values()))
    assert "data-change" not in alone


BASH_INSTALL_ID = "106316defa0e7ba26537f2f4f95ee21cddfa9d216aa01da5ebe11b6328282438"


def test_an_install_id_seat_says_whose_email_it_was_seen_with_to_admins_only(
        app, client, db, loaded, org):
    # bash-tool's seat is an install id, which write-tool's session named beside
    # alice@example.com: the id stays its own seat, with a hint of whose it is.
    users, _ = loaded
    sign_in(client, org, "admin@example.com")
    people.link_identity(db, users["bob"].user, "user_id", BASH_INSTALL_ID)
    member = app.test_client()
    sign_in(member, org, "bob@example.com")

    admins = client.get(f"/users?{PAGE_WINDOW}").text
    bobs = member.get(f"/users?{PAGE_WINDOW}").text

    row = re.search(rf"<tr>(?:(?!</tr>).)*{BASH_INSTALL_ID}.*?</tr>", admins, re.DOTALL).group(0)
    assert 'data-testid="seen-with">an id also seen with alice@example.com<' in row
    assert admins.count('data-testid="seen-with"') == 1
    assert BASH_INSTALL_ID in bobs and "alice@example.com" not in bobs


def test_the_audit_log_finds_reads_of_a_persons_sessions_by_their_email_and_by_action(
        client, db, loaded, org):
    users, ids = loaded
    for session in ("write-tool-resource-attrs", "bash-tool"):
        reader = client.get(f"/api/v1/sessions/{ids[session]}/content",
                            headers=users["admin"].headers)
        assert reader.status_code == 200
    sign_in(client, org, "admin@example.com")

    by_person = client.get(f"/admin/audit?{PAGE_WINDOW}&target=Alice@Example.com").text
    by_action = client.get(f"/admin/audit?{PAGE_WINDOW}&action=content.").text
    by_both = client.get(f"/admin/audit?{PAGE_WINDOW}&action=user.&target=alice@example.com")

    assert re.findall(r'<tr data-action="([^"]+)"', by_person) == ["content.read"]
    assert ids["write-tool-resource-attrs"] in by_person and ids["bash-tool"] not in by_person
    assert re.findall(r'<tr data-action="([^"]+)"', by_action) == ["content.read"] * 2
    assert 'data-action="content.read"' not in by_both.text
