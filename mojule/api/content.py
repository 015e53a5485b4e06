"""GET /api/v1/sessions/<session_id>/content: a session's verbatim content, audited.

Org admins and the session's own user may read it; every attempt, allowed or not, writes
exactly one audit row in the same transaction as the read. If the audit row cannot be
written, nothing is returned.
"""
from __future__ import annotations

import psycopg
from flask import Blueprint, current_app, g, jsonify

from mojule import audit
from mojule.api import request_entry, viewer_seats
from mojule.auth import user_token_required
from mojule.content_read import find_session, owns_session, session_content
from mojule.db import get_connection, org_transaction
from mojule.errors import Forbidden, NotFound, ServiceUnavailable

bp = Blueprint("content_api", __name__)


class AuditUnavailable(ServiceUnavailable):
    """The audit trail cannot be written right now, so no content is returned."""


@bp.get("/api/v1/sessions/<path:session_id>/content")
@user_token_required
def read_session_content(session_id: str):
    """Return the session's events and spans with their content decrypted."""
    items = read_audited_content(session_id)
    return jsonify({"session_id": session_id, "items": items,
                    "notice": "This read was recorded in the org's audit trail."})


def read_audited_content(session_id: str) -> list[dict]:
    """Return the session's content items for the signed-in user, auditing the attempt.

    The API and the dashboard's "Show content" both read through here. Raises NotFound
    (no such session in the user's org), Forbidden (not theirs, not an admin) or
    AuditUnavailable; every outcome leaves exactly one audit row, or none and no content.
    """
    user = g.user
    conn = get_connection()
    masters = current_app.config["MOJULE"]["MASTER_KEYS"]
    items = None
    with org_transaction(conn, user.org_id):
        session = find_session(conn, user.org_id, session_id)
        if session is None:
            outcome = "not_found"
        elif user.is_admin or owns_session(session, viewer_seats(conn)):
            outcome = "allowed"
            items = session_content(conn, masters, user.org_id, session_id)
        else:
            outcome = "denied"
        _audit(conn, user.org_id, outcome, session_id, items)
    if outcome == "not_found":
        raise NotFound("No such session.")
    if outcome == "denied":
        raise Forbidden("Only org admins and the session's own user may read its content.")
    return items


def _audit(conn, org_id: int, outcome: str, session_id: str, items) -> None:
    details = {}
    if items is not None:
        details = {"records": len(items),
                   "values": sum(len(item["content"]) for item in items),
                   "tampered": sum(len(item["tampered"]) for item in items)}
    try:
        audit.record(conn, org_id, request_entry(
            "content.read", outcome, target_type="session", target_id=session_id,
            details=details))
    except psycopg.Error as exc:
        raise AuditUnavailable() from exc
