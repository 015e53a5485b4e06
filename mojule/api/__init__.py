"""The read API (``/api/v1/...``), authenticated with personal access tokens (``mut_...``).

Admins see their whole org; a member sees only the sessions whose seat identity is theirs.
Nobody sees another org: its sessions answer 404 like sessions that do not exist.
"""
from __future__ import annotations

import psycopg
from flask import Flask, g, request

from mojule.analytics import BadParameter
from mojule.audit import Entry
from mojule.errors import BadRequest, handle_mojule_error
from mojule.people import User, seat_identities
from mojule.request_log import client_address


def init_app(app: Flask) -> None:
    """Register the read API's blueprints and turn analytics' parameter errors into 400s."""
    from mojule.api import audit, content, export, holds, security, usage

    blueprints = (usage.bp, content.bp, audit.bp, export.bp, security.bp, holds.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.register_error_handler(BadParameter, _bad_parameter)
    names = {blueprint.name for blueprint in blueprints}
    app.after_request(lambda response: _private(response) if request.blueprint in names
                      else response)


# Answers carry decrypted content, the audit trail and people's usage, and a browser
# fetches the exports with its dashboard cookie: no cache may keep them, and none is
# read as anything but the type it says.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _private(response):
    for name, value in PRIVATE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _bad_parameter(exc: BadParameter):
    return handle_mojule_error(BadRequest(f"{exc}."))


def viewer_seats(conn: psycopg.Connection) -> dict[str, list[str]] | None:
    """Return the signed-in user's seat identities, or None for an admin or analyst (the
    whole org)."""
    if g.user.sees_whole_org:
        return None
    return own_seats(conn)


def own_seats(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Return the signed-in user's own seat identities, whatever their role."""
    user = g.user
    return seat_identities(conn, User(user.org_id, user.user_id, user.email, user.role, None))


def request_entry(action: str, outcome: str, **fields) -> Entry:
    """Return an audit entry for the signed-in user's current request."""
    user = g.user
    return Entry(action=action, outcome=outcome, actor_type="user", actor_id=user.email,
                 actor_role=user.role, token_id=user.token_id, source_ip=client_address(),
                 user_agent=request.headers.get("User-Agent"),
                 request_id=g.get("request_id"), **fields)
