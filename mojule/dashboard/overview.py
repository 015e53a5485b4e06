"""The overview (cost, tokens, sessions, people and code over a date range) and the users page.

Every figure is a row of ``mojule.analytics.usage``, the function behind /api/v1/usage,
called with the same window, time zone and scoping: the pages show the API's numbers.
A member sees only their own usage.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import g, render_template, request

from mojule import analytics, budget
from mojule.api import viewer_seats
from mojule.auth import signed_in
from mojule.dashboard import formats
from mojule.dashboard.web import (
    Period,
    attribute_keys,
    export_url,
    page_blueprint,
    period,
    viewer_last_seen,
    viewer_org,
)
from mojule.db import get_connection

bp = page_blueprint("overview")
DEFAULT_TEAM_KEY = "department"
TOP_USERS = 10


class Usage:
    """The viewer's usage in a period, one ``analytics.usage`` call per grouping."""

    def __init__(self, span: Period):
        self.span = span
        self.conn = get_connection()
        self.seats = viewer_seats(self.conn)

    def rows(self, *groups: str, span: Period | None = None) -> list[dict[str, Any]]:
        """Rows grouped by ``groups``, in this usage's period or in ``span``."""
        span = span or self.span
        return analytics.usage(self.conn, g.user.org_id, span.start, span.end,
                               list(groups), span.tz, self.seats,
                               attributes=dict(span.attributes))

    def by_cost(self, group: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Rows grouped by ``group``, most expensive first, each with its key as ``name``."""
        rows = sorted(self.rows(group), key=lambda row: row["cost_usd"], reverse=True)
        return [{**row, "name": row["key"][group]} for row in rows[:limit]]


@bp.get("/")
@signed_in
def overview():
    """Figures, charts over time, cost by model, team and person, tool use."""
    span = period(team=True)
    usage = Usage(span)
    team_key = request.args.get("team", "").strip() or DEFAULT_TEAM_KEY
    if not analytics.ATTR_KEY.fullmatch(team_key):
        team_key = DEFAULT_TEAM_KEY
    totals = usage.rows()[0]
    earlier = span.previous()
    received = _received_anything(totals)
    by_day = {row["key"]["day"]: row for row in usage.rows("day")}
    return render_template(
        "overview.html", span=span, totals=totals, received=received,
        last_seen=None if received else viewer_last_seen(),
        by_day=by_day,
        changes=_changes(totals, usage.rows(span=earlier)[0]) if earlier and received else {},
        month=_month_against_budget(span),
        chart=_daily_series(span, by_day),
        by_model=usage.by_cost("model"),
        by_team=usage.by_cost(f"attr:{team_key}"), team_key=team_key,
        team_keys=attribute_keys(span),
        top_users=usage.by_cost("user", TOP_USERS),
        unit_costs=unit_costs(totals),
        exports=_exports(span, team_key))


@bp.get("/users")
@signed_in
def users():
    """Each person's usage in the period (a member sees only their own)."""
    span = period(team=True)
    rows = Usage(span).by_cost("user")
    seen_with = {}
    if g.user.sees_whole_org:     # a member's linked id may be seen with another's email
        seen_with = analytics.emails_seen_with(get_connection(), g.user.org_id,
                                               [row["name"] for row in rows],
                                               span.start, span.end)
    return render_template("users.html", span=span, rows=rows, seen_with=seen_with,
                           exports=_exports(span))


@bp.get("/tools")
@signed_in
def tools():
    """Each tool's calls, failures, durations and permission decisions in the period, and
    code-edit decisions by tool and language (a member: their own)."""
    span = period(team=True)
    figures, code_edits = analytics.tool_figures(Usage(span).rows("tool", "language"))
    by_calls = sorted(figures.items(), key=lambda item: (-item[1]["calls"], item[0]))
    edits = sorted(code_edits, key=lambda edit: (-(edit["accepted"] + edit["rejected"]),
                                                 edit["tool_name"], edit["language"] or ""))
    return render_template("tools.html", span=span, tools=by_calls, code_edits=edits,
                           exports=_exports(span))


def unit_costs(totals: dict[str, Any]) -> list[tuple[str, Decimal | None]]:
    """What the period cost per session, active user, commit, pull request and thousand
    lines added, as (label, dollars), None where there were none; per active user only
    for those who see the whole org (a member is their own one user)."""
    cost = Decimal(str(totals["cost_usd"]))

    def per(count: Any, scale: int = 1) -> Decimal | None:
        return cost * scale / Decimal(str(count)) if count else None

    figures = [("Per session", per(totals["sessions"])),
               ("Per active user", per(totals["active_users"])),
               ("Per commit", per(totals["commits"])),
               ("Per pull request", per(totals["pull_requests"])),
               ("Per 1,000 lines added", per(totals["lines_added"], 1000))]
    if not g.user.sees_whole_org:
        figures.pop(1)
    return figures


def _month_against_budget(span: Period) -> budget.MonthToDate | None:
    """This month's cost against the org's budget, for an admin or analyst of an org with
    one; not on a team's overview (the budget is the org's)."""
    if not g.user.sees_whole_org or span.attributes:
        return None
    org = viewer_org()
    if org.monthly_budget_usd is None:
        return None
    return budget.month_to_date(get_connection(), org)


def _changes(now: dict[str, Any], before: dict[str, Any]) -> dict[str, str]:
    """How each headline figure changed since the period before, where it had any:
    {"cost_usd": "+12%", ...}."""
    def tokens(row: dict[str, Any]) -> int:
        return sum(row["tokens"].values())

    changed = {name: formats.change(now[name], before[name])
               for name in ("cost_usd", "sessions", "active_users", "active_time_s",
                            "lines_added")}
    changed["tokens"] = formats.change(tokens(now), tokens(before))
    return {name: text for name, text in changed.items() if text is not None}


def _daily_series(span: Period, by_day: dict[str, dict]) -> dict[str, Any]:
    """Shape the usage by day for the charts: one value per day, days without use at 0."""
    days = span.days()
    zero: dict[str, Any] = {"cost_usd": 0, "sessions": 0, "active_users": 0,
                            "lines_added": 0, "lines_removed": 0,
                            "tokens": {"input": 0, "output": 0, "cache_read": 0,
                                       "cache_creation": 0}}
    rows = [by_day.get(day, zero) for day in days]
    return {
        "days": days,
        "cost_usd": [float(row["cost_usd"]) for row in rows],
        "sessions": [row["sessions"] for row in rows],
        "active_users": [row["active_users"] for row in rows],
        "lines_added": [row["lines_added"] for row in rows],
        "lines_removed": [row["lines_removed"] for row in rows],
        "tokens": {kind: [row["tokens"][kind] for row in rows]
                   for kind in ("input", "output", "cache_read", "cache_creation")},
    }


def _exports(span: Period, team_key: str = DEFAULT_TEAM_KEY) -> dict[str, str]:
    """Return the CSV export links for the period (by team: the team attribute shown)."""
    args = span.api_args()
    return {
        "daily": export_url("/api/v1/export/usage.csv", group_by="day", **args),
        "users": export_url("/api/v1/export/usage.csv", group_by="user", **args),
        "models": export_url("/api/v1/export/usage.csv", group_by="model", **args),
        "tools": export_url("/api/v1/export/usage.csv", group_by="tool", **args),
        "monthly": export_url("/api/v1/export/usage.csv", group_by="month", **args),
        "teams": export_url("/api/v1/export/usage.csv", group_by=f"attr:{team_key}", **args),
        "team_key": team_key,
        "sessions": export_url("/api/v1/export/sessions.csv", attribute=team_key, **args),
    }


def _received_anything(totals: dict[str, Any]) -> bool:
    """True when the window's totals count anything: sessions alone would miss usage sent
    without session.id and the `claude agents` process, which are no sessions."""
    def counts(value: Any) -> bool:
        if isinstance(value, dict):
            return any(counts(item) for item in value.values())
        return isinstance(value, (int, float, Decimal)) and value != 0
    return any(counts(value) for key, value in totals.items() if key != "key")
