"""The admin Security events page: what a security review looks at, counted for a period."""
from __future__ import annotations

from flask import g, render_template, url_for

from mojule import security_events
from mojule.auth import signed_in
from mojule.dashboard.web import page_blueprint, period, require_admin
from mojule.db import get_connection

bp = page_blueprint("security")
bp.before_request(require_admin)


@bp.get("/admin/security")
@signed_in
def security_events_page():
    """The period's security events (permission modes, failed logins, plugin installs,
    tools denied, hook blocks, MCP failures, refusals), each with its events' download."""
    span = period()
    kinds = security_events.summary(get_connection(), g.user.org_id, span.start, span.end)
    downloads = {entry.kind.event_name: url_for("export_api.events_ndjson",
                                                **entry.kind.export_args(), **span.api_args())
                 for entry in kinds}
    return render_template("admin/security.html", section="security", span=span, kinds=kinds,
                           exports=downloads, permissive=security_events.PERMISSIVE_MODES)
