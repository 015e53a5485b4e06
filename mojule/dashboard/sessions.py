"""The session list, a session's page (totals, tools, timeline), its traces and its audited
content.

Lists and totals come from ``mojule.analytics`` (as /api/v1/sessions). Content is revealed
only on request, through the read API's own audited content read, so a reveal here is
checked, decrypted and recorded exactly as ``GET /api/v1/sessions/<id>/content`` is.
"""
from __future__ import annotations

from typing import Any, NoReturn

from flask import g, redirect, render_template, request, url_for

from mojule import analytics, holds, span_trees
from mojule.analytics import MAX_ATTRIBUTE_COLUMNS
from mojule.api import content as content_api
from mojule.api import own_seats, viewer_seats
from mojule.api.params import choice, filter_text
from mojule.api.usage import SESSION_SORTS
from mojule.auth import signed_in
from mojule.content_read import find_session, owns_session
from mojule.dashboard.web import attribute_keys, export_url, page_blueprint, period
from mojule.db import get_connection, org_transaction
from mojule.errors import Forbidden, NotFound

bp = page_blueprint("sessions")
PAGE_SIZE = 50
# The sessions the list shows ordered by cost: every session of the period is costed to
# rank them, so there is one list, no paging.
COSTLIEST = 100


@bp.get("/sessions")
@signed_in
def session_list():
    """Sessions active in the period, newest first or the costliest, filtered by user and
    model."""
    span = period(team=True)
    user, model = filter_text("user"), filter_text("model")
    by_cost = choice("sort", SESSION_SORTS) == "cost"
    cursor = None if by_cost else request.args.get("cursor") or None
    conn = get_connection()
    query_filters = {"user": user, "model": model, "seats": viewer_seats(conn),
                     "attributes": dict(span.attributes)}
    if by_cost:
        rows, next_cursor = analytics.costliest_sessions(
            conn, g.user.org_id, span.start, span.end, limit=COSTLIEST, **query_filters), None
    else:
        rows, next_cursor = analytics.list_sessions(
            conn, g.user.org_id, span.start, span.end, limit=PAGE_SIZE, cursor=cursor,
            **query_filters)
    page_args = _present({**span.page_args(), "user": user, "model": model,
                          "sort": "cost" if by_cost else None})
    return render_template(
        "sessions.html", span=span, rows=rows, user=user or "", model=model or "",
        by_cost=by_cost, costliest=COSTLIEST,
        first_page=url_for(".session_list", **page_args) if cursor else None,
        next_page=url_for(".session_list", cursor=next_cursor, **page_args)
        if next_cursor else None,
        export=export_url("/api/v1/export/sessions.csv", user=user, model=model,
                          attribute=",".join(attribute_keys(span)[:MAX_ATTRIBUTE_COLUMNS]),
                          **span.api_args()))


@bp.get("/sessions/<path:session_id>")
@signed_in
def session_page(session_id: str):
    """A session's totals, tools, code edits and timeline, without content."""
    return render_template("session.html", session=_detail(session_id), content=None,
                           holds=_holds(session_id),
                           may_read_content=_may_read_content(session_id))


@bp.get("/sessions/<path:session_id>/traces")
@signed_in
def traces_page(session_id: str):
    """A session's spans as a waterfall per trace, without content."""
    conn = get_connection()
    traces = span_trees.session_traces(conn, g.user.org_id, session_id, viewer_seats(conn),
                                       details=False)
    if traces is None:
        # A session id is what an exporter sent, and may itself end in /traces.
        with org_transaction(conn, g.user.org_id):
            literal = find_session(conn, g.user.org_id, f"{session_id}/traces") is not None
        if literal:
            return session_page(f"{session_id}/traces")
        _refuse(session_id)
    return render_template("traces.html", traces=traces)


@bp.get("/sessions/<path:session_id>/content")
@signed_in
def content_address(session_id: str):
    """Where a reload or a bookmark of the revealed page goes: the session's page, whose
    button reads the content again (each read is audited; a GET reads nothing)."""
    return redirect(url_for(".session_page", session_id=session_id), 303)


@bp.post("/sessions/<path:session_id>/content")
@signed_in
def reveal_content(session_id: str):
    """The session's page with its content, read through the audited content read."""
    # The read comes first: a refused attempt is recorded in the audit trail too.
    items = content_api.read_audited_content(session_id)
    shown = [item for item in items
             if item["content"] or item["tampered"] or item["unreadable"] or item["purged"]]
    return render_template("session.html", session=_detail(session_id), content=shown,
                           holds=_holds(session_id))


def _may_read_content(session_id: str) -> bool:
    """Whether the viewer may read the session's content: an admin any session's, anyone
    else their own's (a member only ever opens their own; an analyst opens every one)."""
    if g.user.is_admin or not g.user.sees_whole_org:
        return True
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        found = find_session(conn, g.user.org_id, session_id)
    return found is not None and owns_session(found, own_seats(conn))


def _holds(session_id: str) -> list | None:
    """The active legal holds that keep the session's content, for an admin (None for a
    member: holds are the admins' business)."""
    if not g.user.is_admin:
        return None
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        return holds.holds_of_session(conn, g.user.org_id, session_id)


def _detail(session_id: str) -> dict[str, Any]:
    """Return the session's detail. Raises NotFound, or Forbidden for another's session."""
    conn = get_connection()
    detail = analytics.session_totals(conn, g.user.org_id, session_id, viewer_seats(conn))
    if detail is None:
        _refuse(session_id)
    return detail


def _refuse(session_id: str) -> NoReturn:
    """Raise Forbidden for a session of the org the viewer may not open, else NotFound."""
    conn = get_connection()
    if not g.user.is_admin:
        with org_transaction(conn, g.user.org_id):
            exists = find_session(conn, g.user.org_id, session_id) is not None
        if exists:
            raise Forbidden("This session belongs to someone else. Only its own user and "
                            "the org's admins can open it.")
    raise NotFound("No such session in this org.")


def _present(args: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in args.items() if value}
