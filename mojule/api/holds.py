"""GET /api/v1/holds: the org's legal holds, for compliance tools. Admins only."""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from mojule import holds
from mojule.api import params
from mojule.auth import user_token_required
from mojule.db import get_connection, org_transaction
from mojule.errors import Forbidden

bp = Blueprint("holds_api", __name__)


@bp.get("/api/v1/holds")
@user_token_required
@params.takes("active")
def list_holds():
    """Return the org's holds, active first (``active=true``: only those), each with the
    sessions it keeps now."""
    if not g.user.is_admin:
        raise Forbidden("Only org admins may read the org's legal holds.")
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        listed = holds.list_holds(conn, g.user.org_id, params.flag("active"))
    return jsonify({"holds": [hold_json(hold) for hold in listed]})


def hold_json(hold: holds.Hold) -> dict:
    """One hold as the API gives it."""
    def moment(value):
        return value and value.isoformat()

    return {"hold_id": hold.hold_id, "session_id": hold.session_id,
            "seat": hold.seat_identity, "reason": hold.reason, "active": hold.active,
            "sessions": hold.sessions, "placed_by": hold.placed_by,
            "placed_at": moment(hold.placed_at), "released_by": hold.released_by,
            "released_at": moment(hold.released_at)}
