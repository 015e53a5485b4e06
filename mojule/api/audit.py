"""GET /api/v1/audit: the org's audit trail, for its admins only."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from mojule import audit
from mojule.api import params, request_entry
from mojule.auth import user_token_required
from mojule.db import get_connection, org_transaction
from mojule.errors import BadRequest, Forbidden

bp = Blueprint("audit_api", __name__)
MAX_LIMIT = 1000


@bp.get("/api/v1/audit")
@user_token_required
@params.takes("from", "to", "actor", "session", "after", "limit")
def list_audit():
    """Return audit rows in order: ``from``, ``to``, ``actor``, ``session``, ``after``, ``limit``."""
    user = g.user
    if not user.is_admin:
        raise Forbidden("Only org admins may read the audit trail.")
    since, until = params.moment("from", None), params.moment("to", None)
    if since and until and until < since:
        raise BadRequest("Parameter 'to' is before 'from'.")
    limit = params.limit(100, MAX_LIMIT)
    conn = get_connection()
    with org_transaction(conn, user.org_id):
        rows = list(audit.rows(conn, user.org_id, since, until, request.args.get("actor"),
                               request.args.get("session"), params.whole_number("after", 0, 0), limit))
        audit.record(conn, user.org_id, request_entry("audit.read", "allowed",
                                                      details={"rows": len(rows)}))
    for row in rows:
        row["occurred_at"] = row["occurred_at"].isoformat()
    next_after = rows[-1]["audit_id"] if len(rows) == limit else None
    return jsonify({"rows": rows, "next_after": next_after})
