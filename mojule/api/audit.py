"""GET /api/v1/audit: the org's audit trail, for its admins only."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, g, jsonify, request

from mojule import audit
from mojule.api import request_entry
from mojule.auth import user_token_required
from mojule.db import get_connection, org_transaction
from mojule.errors import BadRequest, Forbidden

bp = Blueprint("audit_api", __name__)
MAX_LIMIT = 1000


@bp.get("/api/v1/audit")
@user_token_required
def list_audit():
    """Return audit rows in order: ``from``, ``to``, ``actor``, ``session``, ``after``, ``limit``."""
    user = g.user
    if not user.is_admin:
        raise Forbidden("Only org admins may read the audit trail.")
    since, until = _time("from"), _time("to")
    if since and until and until < since:
        raise BadRequest("Parameter 'to' is before 'from'.")
    limit = _int("limit", 100, 1, MAX_LIMIT)
    conn = get_connection()
    with org_transaction(conn, user.org_id):
        rows = list(audit.rows(conn, user.org_id, since, until, request.args.get("actor"),
                               request.args.get("session"), _int("after", 0, 0, None), limit))
        audit.record(conn, user.org_id, request_entry("audit.read", "allowed",
                                                      details={"rows": len(rows)}))
    for row in rows:
        row["occurred_at"] = row["occurred_at"].isoformat()
    next_after = rows[-1]["audit_id"] if len(rows) == limit else None
    return jsonify({"rows": rows, "next_after": next_after})


def _time(name: str) -> datetime | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"Parameter {name!r} is not an ISO 8601 date or time.") from None
    if moment.tzinfo is None:
        raise BadRequest(f"Parameter {name!r} needs a time zone (e.g. 2026-11-01T00:00:00Z).")
    return moment


def _int(name: str, default: int, low: int, high: int | None) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        raise BadRequest(f"Parameter {name!r} must be an integer from {low}"
                         + (f" to {high}." if high else " up."))
    return int(text)
