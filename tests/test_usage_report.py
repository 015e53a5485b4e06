"""GET /api/v1/usage_report/claude_code: one day's usage per seat and terminal, shaped as
Anthropic's Admin API report, adding up to Claude Code's own accounting and to the usage
API's figures."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from mojule import usage_report
from mojule.cli import cli
from tests.test_analytics import attributes, body, data_points, send
from tests.test_rollup import anonymous
from tests.test_usage_api import SESSIONS, claude_result, get, loaded  # noqa: F401

DAY = "2026-11-26"            # the recorded sessions' UTC day
URL = "/api/v1/usage_report/claude_code"
EDIT_TOOLS = ("edit_tool", "multi_edit_tool", "notebook_edit_tool", "write_tool")


def report(client, user, query: str) -> dict:
    response = get(client, f"{URL}?{query}", user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def usage(client, user, groups: str) -> list[dict]:
    window = "from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z"
    return get(client, f"/api/v1/usage?{window}&{groups}", user).get_json()["rows"]


def sent_edit_decisions() -> dict[str, int]:
    """code_edit_tool.decision points of the recorded sessions, by tool and decision."""
    counted: dict[str, int] = {}
    for name in SESSIONS:
        for metric, point in data_points(body(name, "metrics")):
            if metric["name"] == "claude_code.code_edit_tool.decision":
                attrs = attributes(point)
                key = f"{attrs['tool_name']}:{attrs['decision']}"
                counted[key] = counted.get(key, 0) + int(point.get("asDouble")
                                                         or point.get("asInt"))
    return counted


def test_the_days_report_adds_up_to_claude_codes_own_accounting(client, loaded):  # noqa: F811
    people, _ = loaded
    answer = report(client, people["admin"], f"starting_at={DAY}&limit=1000")
    records = answer["data"]

    assert answer["has_more"] is False and answer["next_page"] is None
    breakdown = [model for record in records for model in record["model_breakdown"]]
    total_cents = sum(Decimal(str(model["estimated_cost"]["amount"])) for model in breakdown)
    expected = [claude_result(name) for name in SESSIONS]
    assert total_cents == sum(Decimal(str(result["total_cost_usd"])) for result in expected) * 100
    assert sum(model["tokens"]["output"] for model in breakdown) == \
        sum(result["usage"]["output_tokens"] for result in expected)
    assert sum(record["core_metrics"]["num_sessions"] for record in records) == len(SESSIONS)
    assert {record["date"] for record in records} == {f"{DAY}T00:00:00Z"}
    assert all(model["estimated_cost"]["currency"] == "USD" for model in breakdown)
    sent = sent_edit_decisions()
    assert sent and sum(record["tool_actions"]["write_tool"]["accepted"] for record in records) \
        == sent.get("Write:accept", 0)
    assert all(set(record["tool_actions"]) == set(EDIT_TOOLS) for record in records)


def test_each_record_is_a_seat_and_terminal_of_the_usage_api(client, loaded):  # noqa: F811
    people, _ = loaded
    records = report(client, people["admin"], f"starting_at={DAY}")["data"]
    rows = usage(client, people["admin"], "group_by=user&group_by=terminal")
    # The recorded seats each used one terminal: a seat's models are its terminal's.
    by_model = usage(client, people["admin"], "group_by=user&group_by=model")
    assert len({row["key"]["user"] for row in rows}) == len(rows)

    assert [(r["actor"]["seat_identity"], r["terminal_type"]) for r in records] == \
        sorted((row["key"]["user"], row["key"]["terminal"]) for row in rows)
    for record in records:
        (row,) = [row for row in rows if row["key"]["user"] == record["actor"]["seat_identity"]
                  and row["key"]["terminal"] == record["terminal_type"]]
        assert record["core_metrics"] == {
            "commits_by_claude_code": row["commits"],
            "lines_of_code": {"added": row["lines_added"], "removed": row["lines_removed"]},
            "num_sessions": row["sessions"],
            "pull_requests_by_claude_code": row["pull_requests"]}
        seat = record["actor"]["seat_identity"]
        models = [model_row for model_row in by_model
                  if model_row["key"]["user"] == seat and model_row["key"]["model"] is not None]
        assert models and [model["model"] for model in record["model_breakdown"]] == \
            [model_row["key"]["model"] for model_row in models]
        for model, model_row in zip(record["model_breakdown"], models):
            assert Decimal(str(model["estimated_cost"]["amount"])) == \
                Decimal(model_row["cost_usd"]) * 100
            assert model["tokens"] == model_row["tokens"]
        assert record["actor"]["type"] == "user_actor"
        assert record["actor"]["email_address"] == (seat if "@" in seat else None)


def test_pages_walk_every_record_once(client, org, loaded):  # noqa: F811
    # With a session of no seat too: its record is the last one, and has its figures.
    people, _ = loaded
    copied = claude_result("write-tool-resource-attrs")["session_id"]
    for signal in ("logs", "metrics"):
        payload = json.dumps(anonymous(body("write-tool-resource-attrs", signal)))
        send(client, org, signal, json.loads(payload.replace(copied, f"{copied}-copy")))
    whole = report(client, people["admin"], f"starting_at={DAY}&limit=1000")["data"]
    assert whole[-1]["actor"]["seat_identity"] is None and whole[-1]["model_breakdown"]
    walked, page = [], None
    while True:
        answer = report(client, people["admin"],
                        f"starting_at={DAY}&limit=1" + (f"&page={page}" if page else ""))
        walked += answer["data"]
        if not answer["has_more"]:
            assert answer["next_page"] is None
            break
        page = answer["next_page"]

    assert len(whole) >= 2 and walked == whole


def test_a_page_belongs_to_its_days_report(client, loaded):  # noqa: F811
    people, _ = loaded
    page = report(client, people["admin"], f"starting_at={DAY}&limit=1")["next_page"]
    response = get(client, f"{URL}?starting_at=2026-11-25&limit=1&page={page}", people["admin"])

    assert page and response.status_code == 400
    assert "'page'" in response.get_json()["message"]


def test_a_member_gets_only_their_own_records(client, loaded):  # noqa: F811
    people, _ = loaded
    records = report(client, people["alice"], f"starting_at={DAY}")["data"]

    assert [record["actor"]["email_address"] for record in records] == ["alice@example.com"]
    assert report(client, people["carol"], f"starting_at={DAY}")["data"] == []


def test_another_day_has_no_records(client, loaded):  # noqa: F811
    people, _ = loaded
    assert report(client, people["admin"], "starting_at=2026-11-25")["data"] == []


@pytest.mark.parametrize(("query", "parameter"), [
    ("", "starting_at"),
    ("starting_at=yesterday", "starting_at"),
    ("starting_at=1900-01-01", "starting_at"),
    (f"starting_at={DAY}&limit=0", "limit"),
    (f"starting_at={DAY}&limit=1001", "limit"),
    (f"starting_at={DAY}&page=not-a-page", "page"),
    (f"starting_at={DAY}&page=WzEsMiwzLDRd", "page"),     # [1,2,3,4]
    ("starting_at=20261126", "starting_at"),
    ("starting_at=2026-W48-4", "starting_at"),
    (f"starting_at={DAY}&limit=\u00b2", "limit"),           # a digit to str.isdigit()
    (f"starting_at={DAY}&limit={'9' * 5000}", "limit"),
])
def test_bad_parameters_get_400_naming_them(client, loaded, query, parameter):  # noqa: F811
    people, _ = loaded
    response = get(client, f"{URL}?{query}", people["admin"])

    assert response.status_code == 400
    assert f"'{parameter}'" in response.get_json()["message"]


@pytest.mark.parametrize("page_size", [1000, 1])
def test_the_cli_writes_every_record_of_the_day(client, org, loaded, app_database_url,  # noqa: F811
                                                master_key, monkeypatch, page_size):
    people, _ = loaded
    expected = report(client, people["admin"], f"starting_at={DAY}&limit=1000")["data"]
    monkeypatch.setattr(usage_report, "MAX_LIMIT", page_size)   # 1: one record a page
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}
    result = CliRunner().invoke(cli, ["export", "usage-report", "--org", org.org.slug,
                                      "--day", DAY], env=env)
    refused = CliRunner().invoke(cli, ["export", "usage-report", "--org", org.org.slug,
                                       "--day", "26/11/2026"], env=env)

    assert result.exit_code == 0, result.output
    assert len(expected) >= 2
    assert [json.loads(line) for line in result.stdout.splitlines()] == expected
    assert refused.exit_code == 2 and "--day" in refused.output
