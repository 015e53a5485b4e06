"""Team filters (attr:<key>=<value>) over sessions of past days summed into usage_days:
a team's report equals its group's, any value a session carries can be picked as it is,
and odd filters are a 400, never a 500. (From review 62.)"""
from __future__ import annotations

import html
import re
import uuid
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from mojule import analytics
from mojule.cli import cli
from tests.test_analytics import FROM, TO
from tests.test_dashboard import person, sign_in
from tests.test_dashboard_browser import varied_export
from tests.test_usage_days import sum_days

TEAMS = ("platform", "platform", "platform", "data", "ops ", "a\tb")
API = "from=2026-10-01&to=2026-12-01"


@pytest.fixture
def teams(client, db, org):
    """Six sessions of past days, each of one team ("ops " with a trailing space, one with
    a tab), summed into usage_days as the nightly purge does."""
    admin = person(db, org, "admin@example.com", "admin")
    ids = {}
    for n, team in enumerate(TEAMS):
        session_id = str(uuid.uuid4())
        for signal in ("logs", "metrics"):
            response = client.post(f"/v1/{signal}", headers=org.headers, data=varied_export(
                "write-tool-resource-attrs", signal, session_id, f"p{n}@example.com", team,
                days_back=2 + n, scale=1 + n))
            assert response.status_code == 202
        ids[session_id] = team
    sum_days(db, org.org.org_id)
    return admin, ids


def test_a_filtered_report_equals_its_group_rollup_and_usage_days_paths(db, org, teams):
    org_id = org.org.org_id
    grouped = {row["key"]["attr:department"]: row
               for row in analytics.usage(db, org_id, FROM, TO, ["attr:department"])}
    by_day = analytics.usage(db, org_id, FROM, TO, ["attr:department", "day"])
    for team in ("platform", "data"):
        (kept,) = analytics.usage(db, org_id, FROM, TO, [], attributes={"department": team})
        assert {**kept, "key": {}} == {**grouped[team], "key": {}}, team
        days = analytics.usage(db, org_id, FROM, TO, ["day"], attributes={"department": team})
        assert [(r["key"]["day"], r["cost_usd"]) for r in days] == [
            (r["key"]["day"], r["cost_usd"]) for r in by_day
            if r["key"]["attr:department"] == team]
    assert grouped["platform"]["sessions"] == 3


def test_a_team_whose_value_has_outer_spaces_is_picked_as_it_is(client, db, org, teams):
    """The filter keeps a value as sent, as the grouped report keys it."""
    admin, _ = teams
    grouped = client.get(f"/api/v1/usage?{API}&group_by=attr:department",
                         headers=admin.headers).get_json()["rows"]
    assert any(row["key"]["attr:department"] == "ops " and row["sessions"] == 1
               for row in grouped)
    (kept,) = client.get(f"/api/v1/usage?{API}&attr:department={quote('ops ')}",
                         headers=admin.headers).get_json()["rows"]
    assert kept["sessions"] == 1

    sign_in(client, org, "admin@example.com")
    overview = html.unescape(client.get("/?from=2026-10-01&to=2026-11-30").text)
    link = re.search(r'<a href="([^"]+)" title="Show only department = ops ">', overview)[1]
    picked = client.get(link)
    assert picked.status_code == 200
    assert "<strong>department = ops </strong>" in picked.text
    assert re.search(r'data-metric="sessions" data-value="1"', picked.text)


def test_a_team_with_a_tab_in_its_value_is_picked_too(client, db, org, teams):
    """Any value a session carries can be picked, as the team table links it."""
    sign_in(client, org, "admin@example.com")
    overview = html.unescape(client.get("/?from=2026-10-01&to=2026-11-30").text)
    link = re.search(r'<a href="([^"]+)" title="Show only department = a\tb">', overview)[1]
    picked = client.get(link)
    assert picked.status_code == 200
    assert re.search(r'data-metric="sessions" data-value="1"', picked.text)


def test_paging_with_a_team_returns_each_of_its_sessions_once(client, teams):
    admin, ids = teams
    seen, cursor = [], None
    while True:
        url = f"/api/v1/sessions?{API}&limit=1&attr:department=platform"
        body = client.get(url + (f"&cursor={cursor}" if cursor else ""),
                          headers=admin.headers).get_json()
        seen += [row["session_id"] for row in body["sessions"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(sid for sid, team in ids.items() if team == "platform")


ODD = ["attr:" + "k" * 5000 + "=x", "attr:k=" + "v" * 5000, "attr:%00=x", "attr:k=%00",
       "attr:k%3Dv=x", "attr:a:b=x", "attr:k%25=x", "attr:%C3%A9=x", "attr:k=%C3%A9%F0%9F%98%80",
       "attr:k=%FF%FE", "attr:k=a&attr:k=b", "attr:k=&attr:k=b", "attr:=x", "attr:=",
       "&".join(f"attr:k{n}=v" for n in range(3000)), "attr:k=%E2%80%A8", "attr:k=%0d%0aX: y",
       "attr:department=platform&attr:department="]


@pytest.mark.parametrize("query", ODD)
def test_odd_filters_never_answer_500(client, org, teams, query):
    admin, _ = teams
    for url in ("/api/v1/usage", "/api/v1/sessions", "/api/v1/export/usage.csv",
                "/api/v1/export/sessions.csv"):
        response = client.get(f"{url}?{API}&{query}", headers=admin.headers)
        assert response.status_code in (200, 400), (url, response.status_code)
        if response.status_code == 200 and "export" in url:
            disposition = response.headers["Content-Disposition"]
            assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+"', disposition)
    sign_in(client, org, "admin@example.com")
    for page in ("/", "/sessions", "/users", "/admin/audit", "/admin/security"):
        assert client.get(f"{page}?from=2026-10-01&to=2026-11-30&{query}").status_code \
            in (200, 400), page


def test_a_page_that_keeps_to_no_team_passes_none_on(client, org, teams):
    """The security page counts the whole org: it neither says it keeps to a team nor
    carries one into its downloads."""
    sign_in(client, org, "admin@example.com")
    page = client.get("/admin/security?from=2026-10-01&to=2026-11-30&attr:department=data")
    assert page.status_code == 200 and "team-notice" not in page.text
    assert "attr" not in html.unescape(page.text).split("<main", 1)[1]


def test_a_query_parameter_named_like_url_fors_own_arguments_is_kept_as_any_other(
        client, org, teams):
    sign_in(client, org, "admin@example.com")
    page = client.get("/sessions?endpoint=x&_external=1")
    assert page.status_code == 200
    assert "endpoint=x" in html.unescape(page.text)     # the presets keep it


def test_the_cli_keeps_to_a_team_with_outer_spaces_as_the_api_does(client, org, teams,
                                                                   app_database_url,
                                                                   master_key):
    admin, _ = teams
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    result = CliRunner().invoke(cli, ["export", "sessions", "--org", org.org.slug, "--from",
                                      "2026-10-01", "--to", "2026-12-01",
                                      "--attr", "department=ops "], env=env)
    api = client.get(f"/api/v1/export/sessions.csv?{API}&attr:department={quote('ops ')}",
                     headers=admin.headers).get_data(as_text=True)

    assert result.exit_code == 0
    assert result.stdout.replace("\r\n", "\n") == api.replace("\r\n", "\n")
    assert len(api.strip().splitlines()) == 2               # header and the "ops " session
