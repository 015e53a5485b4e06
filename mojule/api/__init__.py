"""The read API (``/api/v1/...``), authenticated with personal access tokens (``mut_...``)."""
from __future__ import annotations

from flask import g, request

from mojule.audit import Entry
from mojule.request_log import client_address


def request_entry(action: str, outcome: str, **fields) -> Entry:
    """Return an audit entry for the signed-in user's current request."""
    user = g.user
    return Entry(action=action, outcome=outcome, actor_type="user", actor_id=user.email,
                 actor_role=user.role, token_id=user.token_id, source_ip=client_address(),
                 user_agent=request.headers.get("User-Agent"),
                 request_id=g.get("request_id"), **fields)
