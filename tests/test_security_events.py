"""The admin Security page: the events a security review looks at, counted, never content."""
from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mojule import security_events
from tests.ingest_support import app_client
from tests.test_dashboard import person, sign_in

ALICE, BOB = "alice@example.com", "bob@example.com"
NOW = datetime.now(UTC).replace(microsecond=0)
SECRET_PLUGIN = "acme-internal-deployer"


def value(item: Any) -> dict:
    if isinstance(item, bool):
        return {"boolValue": item}
    if isinstance(item, int):
        return {"intValue": str(item)}
    if isinstance(item, float):
        return {"doubleValue": item}
    return {"stringValue": item}


def event(name: str, email: str | None, sequence: int, ago: timedelta = timedelta(hours=1),
          **attributes: Any) -> dict:
    """A Claude Code event of ``name`` by ``email`` (None: no seat); attribute names with
    dots as __."""
    when = NOW - ago
    pairs = {"event.name": name, "session.id": f"session-{email}",
             **({"user.email": email} if email else {}),
             "event.sequence": sequence, "event.timestamp": when.isoformat(),
             **{key.replace("__", "."): item for key, item in attributes.items()}}
    return {"timeUnixNano": str(int(when.timestamp()) * 10**9),
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": [{"key": key, "value": value(item)} for key, item in pairs.items()]}


RECORDS = [
    event("permission_mode_changed", ALICE, 1, from_mode="default", to_mode="bypassPermissions"),
    event("permission_mode_changed", BOB, 1, from_mode="default", to_mode="bypassPermissions"),
    event("permission_mode_changed", ALICE, 2, from_mode="bypassPermissions", to_mode="plan"),
    event("auth", ALICE, 3, action="login", success=False, auth_method="oauth"),
    event("auth", BOB, 2, action="login", success=True, auth_method="oauth"),
    event("auth", BOB, 9, action="logout", success=0, auth_method="oauth"),   # an int flag
    event("plugin_installed", BOB, 3, plugin__name=SECRET_PLUGIN),
    event("tool_decision", ALICE, 4, tool_name="Bash", decision="reject", source="user_reject"),
    event("tool_decision", ALICE, 5, tool_name="Read", decision="accept", source="config"),
    event("hook_execution_complete", BOB, 4, hook_event="PreToolUse", num_blocking=1),
    event("hook_execution_complete", BOB, 5, hook_event="PreToolUse", num_blocking="0"),
    event("hook_execution_complete", ALICE, 6, hook_event="Stop", num_blocking="2"),
    event("hook_execution_complete", ALICE, 9, hook_event="Stop", num_blocking=1.0),
    event("hook_execution_complete", BOB, 8, hook_event="Stop", num_blocking="1.0"),
    event("hook_execution_complete", BOB, 10, hook_event="Stop", num_blocking="none"),
    event("mcp_server_connection", ALICE, 7, status="failed", transport_type="stdio"),
    event("mcp_server_connection", ALICE, 8, status="connected", transport_type="http"),
    event("api_refusal", BOB, 6, model="claude-opus-5-5"),
    event("api_refusal", None, 1, model="claude-opus-5-5"),    # no seat: one unknown user
    # Before the page's period (the last 30 days): not counted.
    event("permission_mode_changed", BOB, 7, ago=timedelta(days=40), to_mode="auto"),
    # Not of a kind a security review counts.
    event("api_request", ALICE, 10, model="claude-opus-5-5", cost_usd=0.01, input_tokens=5),
    event("user_prompt", BOB, 11, prompt_length=12),
]


# (events, distinct users) of each kind in RECORDS.
EXPECTED = {"permission_mode_changed": (3, 2), "auth": (2, 2), "plugin_installed": (1, 1),
            "tool_decision": (1, 1), "hook_execution_complete": (4, 2),
            "mcp_server_connection": (1, 1), "api_refusal": (2, 2)}


def send_records(client, org) -> None:
    body = {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [
        {"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": RECORDS}]}]}
    response = client.post("/v1/logs", json=body, headers=org.headers)
    assert response.status_code == 202, response.text
    assert response.get_json()["counts"]["logEvents"] == len(RECORDS)


def test_summary_counts_each_kind_with_its_details_and_distinct_users(client, db, org):
    send_records(client, org)

    found = {entry.kind.event_name: entry for entry in security_events.summary(
        db, org.org.org_id, NOW - timedelta(days=30), NOW + timedelta(minutes=1))}

    modes = found["permission_mode_changed"]
    assert (modes.events, modes.seats) == (3, 2)
    assert [(item["detail"], item["events"], item["seats"]) for item in modes.details] == [
        ("bypassPermissions", 2, 2), ("plan", 1, 1)]
    assert modes.last_seen == NOW - timedelta(hours=1)
    assert {name: (entry.events, entry.seats) for name, entry in found.items()} == EXPECTED
    assert [item["detail"] for item in found["tool_decision"].details] == ["Bash"]
    assert [item["detail"] for item in found["mcp_server_connection"].details] == ["stdio"]


def test_the_security_page_shows_the_counts_to_admins_only_and_no_content(client, app, db, org):
    person(db, org, "admin@example.com", "admin")
    person(db, org, "member@example.com", "member")
    send_records(client, org)
    admin = app.test_client()
    sign_in(admin, org, "admin@example.com")
    member = app.test_client()
    sign_in(member, org, "member@example.com")

    page = admin.get("/admin/security").text

    counts = dict(re.findall(r'data-kind="([a-z_]+)" data-events="(\d+)"', page))
    assert counts == {name: str(events) for name, (events, _) in EXPECTED.items()}
    assert SECRET_PLUGIN not in page
    assert member.get("/admin/security").status_code == 403
    # Each kind's download is the events export filtered to it.
    link = html.unescape(re.search(r'href="([^"]*event=permission_mode_changed[^"]*)"',
                                   page).group(1))
    lines = [json.loads(line) for line in admin.get(link).get_data(as_text=True).splitlines()]
    assert sorted(line["attributes"]["to_mode"] for line in lines) == [
        "bypassPermissions", "bypassPermissions", "plan"]


def test_an_org_without_such_events_shows_every_kind_at_zero(client, app, db, org):
    person(db, org, "admin@example.com", "admin")
    admin = app.test_client()
    sign_in(admin, org, "admin@example.com")

    page = admin.get("/admin/security").text

    assert page.count('data-events="0"') == len(security_events.KINDS)


def test_the_api_gives_admins_the_same_counts_and_working_export_links(client, db, org):
    admin = person(db, org, "admin@example.com", "admin")
    member = person(db, org, "member@example.com", "member")
    send_records(client, org)

    answer = client.get("/api/v1/security-events", headers=admin.headers)

    assert answer.status_code == 200
    kinds = {kind["event_name"]: kind for kind in answer.get_json()["kinds"]}
    assert {name: (kind["events"], kind["users"]) for name, kind in kinds.items()} == EXPECTED
    assert [(item["detail"], item["events"]) for item in
            kinds["permission_mode_changed"]["details"]] == [("bypassPermissions", 2), ("plan", 1)]
    # Each kind's export holds the events its count counted, and only those.
    for name, kind in kinds.items():
        exported = client.get(kind["events_export"], headers=admin.headers)
        lines = [json.loads(line) for line in exported.get_data(as_text=True).splitlines()]
        assert len(lines) == kind["events"] and {line["event_name"] for line in lines} <= {name}
    failed = client.get(kinds["auth"]["events_export"], headers=admin.headers)
    assert sorted(json.loads(line)["attributes"]["action"]
                  for line in failed.get_data(as_text=True).splitlines()) == ["login", "logout"]
    assert client.get("/api/v1/security-events", headers=member.headers).status_code == 403


def test_the_events_export_keeps_notable_events_only_when_asked(client, db, org):
    admin = person(db, org, "admin@example.com", "admin")
    send_records(client, org)
    window = {"from": (NOW - timedelta(days=1)).isoformat(), "to": NOW.isoformat()}

    def exported(**args) -> list[dict]:
        answer = client.get("/api/v1/export/events.ndjson", headers=admin.headers,
                            query_string={**window, **args})
        assert answer.status_code == 200, answer.get_json()
        return [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]

    everything, notable = exported(), exported(notable="true")
    assert exported(notable="false") == everything
    assert len(notable) < len(everything)
    counted = {entry.kind.event_name: entry.events for entry in
               security_events.summary(db, org.org.org_id, NOW - timedelta(days=1), NOW)}
    for name, events in counted.items():
        assert len([line for line in notable if line["event_name"] == name]) == events
    # Those, and no other event.
    assert len(notable) == sum(counted.values())
    answer = client.get("/api/v1/export/events.ndjson", headers=admin.headers,
                        query_string={**window, "notable": "maybe"})
    assert answer.status_code == 400 and "'notable'" in answer.get_json()["message"]


def test_a_detail_an_operator_declares_content_is_never_shown(config, db, org):
    admin = person(db, org, "admin@example.com", "admin")
    with app_client(config, CONTENT_KEYS=("to_mode",)) as client:
        send_records(client, org)
        answer = client.get("/api/v1/security-events", headers=admin.headers)

    assert answer.status_code == 200
    assert "bypassPermissions" not in answer.get_data(as_text=True)
    (modes,) = [kind for kind in answer.get_json()["kinds"]
                if kind["event_name"] == "permission_mode_changed"]
    assert (modes["events"], [item["detail"] for item in modes["details"]]) == (3, [None])


@pytest.mark.parametrize("query", ["to=0001-01-02", "from=9999-12-30&to=9999-12-31"])
def test_dates_past_what_a_window_can_hold_are_refused_naming_the_parameter(client, db, org,
                                                                           query):
    admin = person(db, org, "admin@example.com", "admin")

    answer = client.get(f"/api/v1/security-events?{query}", headers=admin.headers)

    assert answer.status_code == 400 and "years" in answer.get_json()["message"]


@pytest.mark.parametrize("query", ["to=9999-12-31", "to=0001-01-05"])
def test_the_page_refuses_dates_past_what_a_period_can_hold(client, app, db, org, query):
    person(db, org, "admin@example.com", "admin")
    admin = app.test_client()
    sign_in(admin, org, "admin@example.com")

    page = admin.get(f"/admin/security?{query}")

    assert page.status_code == 400 and "between the years" in page.text


def test_each_kind_and_detail_names_its_users_on_the_page_and_in_the_api(client, app, db, org,
                                                                         monkeypatch):
    # A review starts from the people: who switched to bypassPermissions, not only how many.
    admin_user = person(db, org, "admin@example.com", "admin")
    send_records(client, org)
    admin = app.test_client()
    sign_in(admin, org, "admin@example.com")

    page = admin.get("/admin/security").text
    answer = client.get("/api/v1/security-events", headers=admin_user.headers).get_json()
    monkeypatch.setattr(security_events, "NAMED_SEATS", 1)
    fewer = client.get("/api/v1/security-events", headers=admin_user.headers).get_json()

    modes = re.search(r'<li data-detail="bypassPermissions">.*?</li>', page, re.DOTALL).group(0)
    assert f"({ALICE}, {BOB})" in modes
    plugins = re.search(r'<tr data-kind="plugin_installed".*?</tr>', page, re.DOTALL).group(0)
    assert f"({BOB})" in plugins
    kinds = {kind["event_name"]: kind for kind in answer["kinds"]}
    assert kinds["permission_mode_changed"]["users_named"] == sorted([ALICE, BOB])
    assert kinds["api_refusal"]["users_named"] == ["", BOB]         # "": no seat named
    refusals = {kind["event_name"]: kind for kind in fewer["kinds"]}["api_refusal"]
    assert refusals["users_named"] == [""] and refusals["users"] == 2
