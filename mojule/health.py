"""Public health probes for load balancers and orchestration."""
from __future__ import annotations

from flask import Blueprint, jsonify

from mojule.auth import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """The process is alive and serving requests."""
    return jsonify({"status": "ok"})
