"""Public health probes for load balancers and orchestration.

``/healthz`` says the process serves requests; ``/readyz`` says it can do its work: the
database answers, its schema is this release's, and the master keys loaded open the
keys stored. Both are public and say nothing an outsider could use (no versions, hosts or
key ids: the server log names those).
"""
from __future__ import annotations

import logging
import time

import psycopg
from flask import Blueprint, current_app, jsonify

from mojule.auth import public
from mojule.db import get_connection
from mojule.keyring import unconfigured_master_key_ids
from mojule.schema import pending_migrations

bp = Blueprint("health", __name__)
log = logging.getLogger("mojule.health")

# How long a worker trusts its last passing master key check. The check reads every org's
# keys (two indexed lookups per org) and a load balancer probes every few seconds, each
# worker in turn. Stored keys are wrapped by a configured master key as they are made, so
# under a running server they change only by a restore; a failing check is made again on
# every probe, so that the fix shows at once.
MASTER_KEY_CHECK_SECONDS = 60


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
    masters = current_app.config["MOJULE"].get("MASTER_KEYS") or ()
    try:
        conn = get_connection()
        # .get: a worker reloaded without gunicorn.conf.py's post_fork runs an older
        # create_app, which loaded none (upgrade.rst, step 4); it reads them from disk.
        pending = pending_migrations(conn, current_app.extensions.get("mojule.migrations"))
        if pending:
            checks["migrations"] = f"{len(pending)} pending (run mojule init-db)"
        else:
            checks["master_key"] = _master_key_state_cached(conn, masters)
    except psycopg.Error:
        checks["database"] = "unreachable"
        checks["migrations"] = checks["master_key"] = "unknown"
    failed = [name for name, state in checks.items() if state != "ok"]
    if not failed:
        return jsonify({"status": "ready", "checks": checks})
    message = "Not ready: " + "; ".join(f"{name} {checks[name]}" for name in failed) + "."
    return jsonify({"error": "not_ready", "message": message, "checks": checks}), 503


def _master_key_state_cached(conn: psycopg.Connection, masters) -> str:
    """Return _master_key_state, from this worker's last check when it passed less than
    MASTER_KEY_CHECK_SECONDS ago."""
    passed_at = current_app.extensions.get("mojule.master_key_passed_at")
    now = time.monotonic()
    if passed_at is not None and now - passed_at < MASTER_KEY_CHECK_SECONDS:
        return "ok"
    state = _master_key_state(conn, masters)
    current_app.extensions["mojule.master_key_passed_at"] = now if state == "ok" else None
    return state


def _master_key_state(conn: psycopg.Connection, masters) -> str:
    """Return "ok" when the configured master keys open every stored key, else why not
    (the configuration refuses to start without a valid key, but not a wrong one)."""
    if not masters:
        return "missing"
    unknown = unconfigured_master_key_ids(conn, masters)
    if not unknown:
        return "ok"
    log.error("stored keys are wrapped by master key id(s) %s, none of them configured",
              ", ".join(unknown))
    return ("some stored keys are wrapped by a master key that is not configured "
            "(MOJULE_MASTER_KEY, or MOJULE_MASTER_KEY_PREVIOUS during a rotation)")
