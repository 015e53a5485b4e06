"""Claude Code's daily usage report in the shape of Anthropic's Admin API.

``GET /v1/organizations/usage_report/claude_code`` answers one record per person and day
(sessions, lines of code, commits, pull requests, edit-tool decisions, and tokens and
estimated cost per model) for first-party API usage only. Mojule answers the same shape
from telemetry, so a tool built for the Admin API reads Mojule with another base URL and
token, and also sees usage through Bedrock, Vertex and Foundry. The figures are the
usage report's (mojule.accounting), for one UTC day, in one transaction: grouped by
seat and terminal (a record: the Admin API's records have one terminal each), then, for
the page's seats only, by model and by tool.

What telemetry does not say is null: ``customer_type`` and ``subscription_type``. An
actor is a ``user_actor`` whose ``email_address`` is the seat when it is an email
address; ``seat_identity`` (Mojule's) names the seat either way. ``estimated_cost.amount``
is in cents, as the Admin API's, but not rounded to whole cents.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg

from mojule import accounting
from mojule.accounting import Scope
from mojule.analytics import (
    YEARS,
    BadParameter,
    Seats,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from mojule.db import query

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
# The Admin API's tool_actions, by the tool_name Claude Code's code_edit_tool.decision
# metric carries.
EDIT_TOOLS = {"Edit": "edit_tool", "MultiEdit": "multi_edit_tool",
              "NotebookEdit": "notebook_edit_tool", "Write": "write_tool"}
GROUPS = ["user", "terminal"]


def claude_code_report(conn: psycopg.Connection, org_id: int, day: date,
                       seats: Seats | None = None, limit: int = DEFAULT_LIMIT,
                       page: str | None = None) -> dict[str, Any]:
    """Return {"data": [record], "has_more", "next_page"} for the UTC ``day``: the records
    of the seats and terminals after ``page`` (a previous answer's next_page), at most
    ``limit``, in seat and terminal order. ``seats`` keeps one person's (a member's).
    Raises BadParameter naming a bad parameter."""
    if day.year not in YEARS:
        raise BadParameter("starting_at", f"must be a day between the years {YEARS.start} "
                                          f"and {YEARS.stop - 1}")
    check_limit(limit, MAX_LIMIT)
    after = _decode_page(page, day)
    start = datetime.combine(day, time(), UTC)
    scope = Scope(start, start + timedelta(days=1), seats=seats)
    with accounting.transaction(conn, org_id):
        totals = accounting.report(conn, org_id, scope, GROUPS)
        ordered = sorted((row for row in totals if after is None or _order(row) > after),
                         key=_order)
        shown = ordered[:limit]
        by_group, organizations = _page_details(conn, org_id, scope, shown)
    data = [_record(day, row, organizations, *by_group.get(_group(row), ([], {})))
            for row in shown]
    more = len(ordered) > limit
    return {"data": data, "has_more": more,
            "next_page": _encode_page(day, _order(shown[-1])) if more else None}


def every_record(conn: psycopg.Connection, org_id: int, day: date,
                 seats: Seats | None = None) -> Iterator[dict[str, Any]]:
    """Yield every record of the UTC ``day``'s report, a page of MAX_LIMIT at a time."""
    page = None
    while True:
        answer = claude_code_report(conn, org_id, day, seats, MAX_LIMIT, page)
        yield from answer["data"]
        if not answer["has_more"]:
            return
        page = answer["next_page"]


def _page_details(conn: psycopg.Connection, org_id: int, scope: Scope,
                  shown: Sequence[Mapping[str, Any]]) -> tuple[dict, dict[str, str]]:
    """Return the model breakdowns and edit-tool decisions of the records ``shown``, by
    seat and terminal (``_by_group``), and their seats' organization uuids.

    Grouped by model and by tool (which reads the raw rows) for the page's seats'
    sessions only: a page of 20 records of a large org's day need not read all of it."""
    if not shown:
        return {}, {}
    seats = {row["key"]["user"] for row in shown}
    params = {"org_id": org_id, "from": scope.start, "to": scope.end,
              "seats": sorted(seat for seat in seats if seat is not None),
              "seatless": None in seats}
    sessions = [session_id for (session_id,) in conn.execute(query("usage_report_sessions"),
                                                             params)]
    page = replace(scope, session_ids=sessions)
    models = accounting.report(conn, org_id, page, [*GROUPS, "model"])
    tools = accounting.report(conn, org_id, page, [*GROUPS, "tool"])
    organizations = dict(conn.execute(query("usage_report_organizations"), params).fetchall())
    return _by_group(models, tools), organizations


def _group(row: Mapping[str, Any]) -> tuple[str | None, str | None]:
    return row["key"]["user"], row["key"]["terminal"]


def _order(row: Mapping[str, Any]) -> tuple[bool, str, bool, str]:
    """A record's place: by seat, then terminal, a group without one last."""
    user, terminal = _group(row)
    return (user is None, user or "", terminal is None, terminal or "")


def _by_group(models: Sequence[Mapping[str, Any]],
              tools: Sequence[Mapping[str, Any]]) -> dict[tuple, tuple[list, dict]]:
    """The model breakdown and edit-tool decisions of each seat and terminal."""
    found: dict[tuple, tuple[list, dict]] = {}
    for row in models:
        model = row["key"]["model"]
        if model is None or not (row["cost_usd"] or any(row["tokens"].values())):
            continue   # what Claude Code gives no model: active time, commits, tools
        found.setdefault(_group(row), ([], {}))[0].append({
            "estimated_cost": {"amount": float(row["cost_usd"] * 100), "currency": "USD"},
            "model": model,
            "tokens": {name: row["tokens"][name]
                       for name in ("cache_creation", "cache_read", "input", "output")},
        })
    for row in tools:
        action = EDIT_TOOLS.get(row["key"]["tool"])
        if action is not None:
            found.setdefault(_group(row), ([], {}))[1][action] = row["code_edit_decisions"]
    return found


def _record(day: date, row: Mapping[str, Any], organizations: Mapping[str, str],
            model_breakdown: list[dict], decisions: Mapping[str, dict]) -> dict[str, Any]:
    seat, terminal = _group(row)
    return {
        "actor": {"type": "user_actor",
                  "email_address": seat if seat is not None and "@" in seat else None,
                  "seat_identity": seat},
        "core_metrics": {
            "commits_by_claude_code": row["commits"],
            "lines_of_code": {"added": row["lines_added"], "removed": row["lines_removed"]},
            "num_sessions": row["sessions"],
            "pull_requests_by_claude_code": row["pull_requests"],
        },
        "customer_type": None,
        "date": f"{day.isoformat()}T00:00:00Z",
        "model_breakdown": model_breakdown,
        "organization_id": organizations.get(seat),
        "subscription_type": None,
        "terminal_type": terminal,
        "tool_actions": {action: dict(decisions.get(action, {"accepted": 0, "rejected": 0}))
                         for action in EDIT_TOOLS.values()},
    }


def _encode_page(day: date, order: tuple) -> str:
    """The page after the record at ``order``, of ``day``'s report only."""
    return encode_cursor([day.isoformat(), *order])


def _decode_page(page: str | None, day: date) -> tuple[bool, str, bool, str] | None:
    if page is None:
        return None
    found = decode_cursor(page, "page")
    if (not isinstance(found, list)
            or [type(part) for part in found] != [str, bool, str, bool, str]):
        raise BadParameter("page", "not a page this API returned")
    if found[0] != day.isoformat():
        raise BadParameter("page", f"a page of the report of {found[0]}, not {day}")
    return tuple(found[1:])
