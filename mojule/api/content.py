"""GET /api/v1/sessions/<session_id>/content: a session's verbatim content, audited;
GET /api/v1/content-reads: who read the content of one's own sessions.

Org admins and the session's own user may read it; every attempt, allowed or not, writes
exactly one audit row in the same transaction as the read. If the audit row cannot be
written, nothing is returned. Each person, member or admin, can list those rows for their
own sessions: whoever reads a developer's prompts, the developer can see that they did.
"""
from __future__ import annotations

import psycopg
from flask import Blueprint, current_app, g, jsonify

from mojule import audit
from mojule.api import own_seats, params, request_entry
from mojule.auth import user_token_required
from mojule.content_read import find_session, owns_session, session_content
from mojule.db import get_connection, org_transaction
from mojule.errors import Forbidden, NotFound, ServiceUnavailable

bp = Blueprint("content_api", __name__)
MAX_READS_LIMIT = 1000


class AuditUnavailable(ServiceUnavailable):
    """The audit trail cannot be written right now, so no content is returned."""


@bp.get("/api/v1/sessions/<path:session_id>/content")
@user_token_required
@params.takes()
def read_session_content(session_id: str):
    """Return the session's events and spans with their content decrypted."""
    items = read_audited_content(session_id)
    return jsonify({"session_id": session_id, "items": items,
                    "notice": "This read was recorded in the org's audit trail."})


def read_audited_content(session_id: str) -> list[dict]:
    """Return the session's content items for the signed-in user, auditing the attempt.

    The API and the dashboard's "Show content" both read through here. Raises NotFound
    (no such session in the user's org), Forbidden (not theirs, not an admin, or a token
    made without content access) or AuditUnavailable; every outcome leaves exactly one
    audit row, or none and no content.
    """
    user = g.user
    conn = get_connection()
    masters = current_app.config["MOJULE"]["MASTER_KEYS"]
    items = None
    with org_transaction(conn, user.org_id):
        # A token made without content access is refused before anything is looked up:
        # it can no more tell which sessions exist than read them.
        if not user.reads_content:
            outcome = "denied"
        elif (session := find_session(conn, user.org_id, session_id)) is None:
            outcome = "not_found"
        elif user.is_admin or owns_session(session, own_seats(conn)):
            outcome = "allowed"
            items = session_content(conn, masters, user.org_id, session_id)
        else:
            outcome = "denied"
        _audit(conn, user.org_id, outcome, session_id, items,
               {} if user.reads_content else {"token_reads_content": False})
    if not user.reads_content:
        raise Forbidden("This API token was made without content access. Make one that "
                        "may read content (your account page, or mojule user token "
                        "--reads-content) to read prompts and responses.")
    if outcome == "not_found":
        raise NotFound("No such session.")
    if outcome == "denied":
        raise Forbidden("Only org admins and the session's own user may read its content.")
    return items


def _audit(conn, org_id: int, outcome: str, session_id: str, items,
           details: dict | None = None) -> None:
    details = dict(details or {})
    if items is not None:
        details |= {"records": len(items),
                   "values": sum(len(item["content"]) for item in items),
                   "tampered": sum(len(item["tampered"]) for item in items)}
    try:
        audit.record(conn, org_id, request_entry(
            "content.read", outcome, target_type="session", target_id=session_id,
            details=details))
    except psycopg.Error as exc:
        raise AuditUnavailable() from exc


@bp.get("/api/v1/content-reads")
@user_token_required
@params.takes("before", "limit")
def list_content_reads():
    """Return the reads of the signed-in user's sessions' content, newest first:
    ``before`` (an audit id, for the next page), ``limit``."""
    before_id = params.whole_number("before", 0, 1) or None
    limit = params.limit(100, MAX_READS_LIMIT)
    reads = content_reads(get_connection(), before_id, limit)
    next_before = reads[-1]["audit_id"] if len(reads) == limit else None
    return jsonify({"reads": [read_json(read) for read in reads], "next_before": next_before})


def content_reads(conn: psycopg.Connection, before_id: int | None, limit: int) -> list[dict]:
    """Return reads of the signed-in user's sessions' content, newest first.

    Listing them is not itself audited: the rows are about the user's own sessions, name
    only who read which session when, and carry no content."""
    user = g.user
    with org_transaction(conn, user.org_id):
        return audit.content_reads_of(conn, user.org_id, own_seats(conn), before_id, limit)


def read_json(read: dict) -> dict:
    """One content read as the API gives it."""
    return {"audit_id": read["audit_id"], "occurred_at": read["occurred_at"].isoformat(),
            "session_id": read["session_id"], "reader": read["actor_id"],
            "reader_role": read["actor_role"], "via": read_via(read),
            "outcome": read["outcome"]}


def read_via(read: dict) -> str:
    """How the reader read: with an API token, or signed in to the dashboard."""
    return "api_token" if read["token_id"] is not None else "dashboard"
