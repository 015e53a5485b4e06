"""GET /api/v1/usage, /api/v1/sessions, /api/v1/sessions/<id>(/traces), /api/v1/budget and
/api/v1/usage_report/claude_code: usage for the org's people.

Views parse parameters and shape answers; the figures come from mojule.analytics, whose
parameter errors become 400s naming the parameter.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from mojule import analytics, budget, orgs, span_trees, usage_report
from mojule.api import params, viewer_seats
from mojule.auth import user_token_required
from mojule.db import get_connection
from mojule.errors import BadRequest, Forbidden, NotFound

bp = Blueprint("usage_api", __name__)
# The orders of the session list: by last activity (paged by cursor), or by cost.
SESSION_SORTS = ("recent", "cost")


@bp.get("/api/v1/usage")
@user_token_required
@params.takes("from", "to", "tz", "group_by", "user", params.ATTRIBUTE_FILTERS)
def usage():
    """Usage in [from, to) grouped by day, week, month, user, model, tool, language,
    terminal, app_version, query_source, speed, effort or attr:<key>;
    ``user`` and ``attr:<key>=<value>`` keep some sessions only."""
    tz = params.time_zone()
    start, end = params.window(tz)
    conn = get_connection()
    rows = analytics.usage(conn, g.user.org_id, start, end, params.group_by(), tz,
                           viewer_seats(conn), params.filter_text("user"), params.attributes())
    return jsonify({"from": start.isoformat(), "to": end.isoformat(), "tz": tz,
                    "group_by": params.group_by(), "rows": rows})


@bp.get("/api/v1/sessions")
@user_token_required
@params.takes("from", "to", "tz", "user", "model", "limit", "cursor", "sort",
              params.ATTRIBUTE_FILTERS)
def sessions():
    """Sessions active in [from, to) with their totals: newest first, with cursor paging,
    or (sort=cost) the costliest first, one list."""
    tz = params.time_zone()
    start, end = params.window(tz)
    sort = params.choice("sort", SESSION_SORTS)
    conn = get_connection()
    filters = {"user": params.filter_text("user"), "model": params.filter_text("model"),
               "seats": viewer_seats(conn), "limit": params.limit(),
               "attributes": params.attributes()}
    if sort == "cost":
        if request.args.get("cursor"):
            raise BadRequest("'cursor' pages sessions by last activity; sort=cost gives the "
                             "'limit' costliest in one list (up to 500; all of them: the "
                             "sessions export).")
        rows = analytics.costliest_sessions(conn, g.user.org_id, start, end, **filters)
        return jsonify({"sessions": rows, "next_cursor": None})
    rows, cursor = analytics.list_sessions(conn, g.user.org_id, start, end,
                                           cursor=request.args.get("cursor"), **filters)
    return jsonify({"sessions": rows, "next_cursor": cursor})


@bp.get("/api/v1/sessions/<path:session_id>")
@user_token_required
@params.takes()
def session(session_id: str):
    """One session's totals and its timeline (content attribute names only, never content)."""
    conn = get_connection()
    detail = analytics.session_totals(conn, g.user.org_id, session_id, viewer_seats(conn))
    if detail is None:
        raise NotFound("No such session.")
    return jsonify(detail)


@bp.get("/api/v1/sessions/<path:session_id>/traces")
@user_token_required
@params.takes()
def session_traces(session_id: str):
    """One session's spans as trace trees (content attribute names only, never content)."""
    conn = get_connection()
    traces = span_trees.session_traces(conn, g.user.org_id, session_id, viewer_seats(conn))
    if traces is None:
        # A session id is what an exporter sent, and may itself end in /traces.
        return session(f"{session_id}/traces")
    return jsonify(traces)


@bp.get("/api/v1/budget")
@user_token_required
@params.takes()
def budget_status():
    """This UTC calendar month's cost against the org's monthly budget, and what it is on
    pace for; for alerting. Admins and analysts only."""
    if not g.user.sees_whole_org:
        raise Forbidden("Only org admins and analysts may read the org's budget.")
    conn = get_connection()
    return jsonify(budget.as_json(budget.month_to_date(
        conn, orgs.find_org_by_id(conn, g.user.org_id))))


@bp.get("/api/v1/usage_report/claude_code")
@user_token_required
@params.takes("starting_at", "limit", "page")
def claude_code_usage_report():
    """One UTC day's usage per seat and terminal in the shape of Anthropic's Admin API
    report (GET /v1/organizations/usage_report/claude_code): starting_at, limit, page."""
    conn = get_connection()
    return jsonify(usage_report.claude_code_report(
        conn, g.user.org_id, params.day("starting_at"), viewer_seats(conn),
        params.limit(usage_report.DEFAULT_LIMIT, usage_report.MAX_LIMIT),
        request.args.get("page")))
