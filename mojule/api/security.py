"""GET /api/v1/security-events: the admin Security page's counts, for alerting and SIEMs."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, url_for

from mojule import security_events
from mojule.api import params
from mojule.auth import user_token_or_signed_in
from mojule.db import get_connection
from mojule.errors import Forbidden

bp = Blueprint("security_api", __name__)


@bp.get("/api/v1/security-events")
@user_token_or_signed_in
@params.takes("from", "to", "tz")
def security_event_counts():
    """Each kind of security event in the window (``from``, ``to``, ``tz``) with its counts,
    per detail, and the URL of its events' export. Admins only."""
    if not g.user.is_admin:
        raise Forbidden("Only org admins may read the org's security events.")
    tz = params.time_zone()
    start, end = params.window(tz)
    kinds = security_events.summary(get_connection(), g.user.org_id, start, end)
    window = {"from": start.isoformat(), "to": end.isoformat()}
    return jsonify({**window, "kinds": [{
        "event_name": entry.kind.event_name,
        "label": entry.kind.label,
        "events": entry.events,
        "users": entry.seats,
        "users_named": entry.named_seats,
        "last_seen": entry.last_seen and entry.last_seen.isoformat(),
        "details": [{"detail": item["detail"], "events": item["events"],
                     "users": item["seats"], "users_named": item["named_seats"],
                     "last_seen": item["last_seen"].isoformat()}
                    for item in entry.details],
        "events_export": url_for("export_api.events_ndjson", **entry.kind.export_args(),
                                 **window),
    } for entry in kinds]})
