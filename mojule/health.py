"""Public health probes for load balancers and orchestration.

``/healthz`` says the process serves requests; ``/readyz`` says it can do its work: the
database answers, its schema is this release's, and a master key is loaded. Both are
public and say nothing an outsider could use (no versions, hosts or key ids).
"""
from __future__ import annotations

import psycopg
from flask import Blueprint, current_app, jsonify

from mojule.auth import public
from mojule.db import get_connection
from mojule.schema import pending_migrations

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """The process is alive and serving requests."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@public
def readyz():
    """Answer 200 when every check passes, else 503 naming the checks that failed."""
    checks = {"database": "ok", "migrations": "ok", "master_key": "ok"}
    try:
        pending = pending_migrations(get_connection())
    except psycopg.Error:
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
    else:
        if pending:
            checks["migrations"] = f"{len(pending)} pending (run mojule init-db)"
    # The configuration refuses to start without a valid master key, so a serving worker
    # has one; the probe states it rather than leaving it implied.
    if not current_app.config["MOJULE"].get("MASTER_KEYS"):
        checks["master_key"] = "missing"
    failed = [name for name, state in checks.items() if state != "ok"]
    if not failed:
        return jsonify({"status": "ready", "checks": checks})
    message = "Not ready: " + "; ".join(f"{name} {checks[name]}" for name in failed) + "."
    return jsonify({"error": "not_ready", "message": message, "checks": checks}), 503
