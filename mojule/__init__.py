"""Mojule: the receiver and analytics service for Claude Code telemetry."""
from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Create and configure a Mojule application. Raises ConfigError on bad settings."""
    from mojule import api, auth, config, db, errors, health, logs, metrics, request_log, traces
    from mojule.ingest import Partitions
    from mojule.keyring import Keyring

    app = Flask(__name__)
    app.config["MOJULE"] = config.load(overrides)
    # Werkzeug refuses declared bodies over the limit; ours also bounds streamed ones.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MOJULE"]["MAX_BODY_BYTES"]

    # Every log line carries the request id.
    request_log.init_app(app)
    # One connection pool per gunicorn worker, opened after the fork.
    db.init_app(app)
    # Per-worker caches: unwrapped org data keys and the partitions known to exist.
    app.extensions["mojule.keyring"] = Keyring(app.config["MOJULE"]["MASTER_KEYS"])
    app.extensions["mojule.partitions"] = Partitions()
    # Every request is authenticated unless its view is marked @public.
    auth.init_app(app)
    # All errors leave as JSON; unexpected ones are logged with a traceback.
    errors.init_app(app)

    # Ingest: one blueprint per signal.
    for blueprint in (health.bp, logs.bp, metrics.bp, traces.bp):
        app.register_blueprint(blueprint)
    # The read API: usage, sessions, content, audit and exports.
    api.init_app(app)
    return app
