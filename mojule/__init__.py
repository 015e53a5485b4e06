"""Mojule: the receiver and analytics service for Claude Code telemetry."""
from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Create and configure a Mojule application. Raises ConfigError on bad settings."""
    from mojule import (
        api,
        auth,
        body,
        config,
        dashboard,
        db,
        errors,
        health,
        json_provider,
        logs,
        metrics,
        observability,
        parameters,
        receiver,
        request_log,
        schema,
        traces,
    )
    from mojule.ingest import Partitions
    from mojule.keyring import Keyring
    from mojule.license import trusted_keys
    from mojule.policy import IngestPolicy
    from mojule.rollup import UnattributedOrgs

    app = Flask(__name__)
    app.config["MOJULE"] = config.load(overrides)
    # JSON responses written by orjson: a large report's, several times sooner.
    app.json = json_provider.OrjsonProvider(app)
    # Werkzeug refuses declared bodies over the limit; ours also bounds streamed ones. One
    # byte more for Werkzeug: behind gunicorn (wsgi.input_terminated) it also limits the
    # stream, and there takes a body of exactly its limit for a longer one; body.py
    # enforces the limit itself, to the byte.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MOJULE"]["MAX_BODY_BYTES"] + 1

    # Every log line carries the request id.
    request_log.init_app(app)
    # Request counts and latency for /metrics, timed from before authentication.
    observability.init_app(app)
    # One connection pool per gunicorn worker, opened after the fork.
    db.init_app(app)
    # Per-worker caches: unwrapped org data keys, the partitions known to exist, and the
    # orgs known to have sessions without session.id.
    app.extensions["mojule.keyring"] = Keyring(app.config["MOJULE"]["MASTER_KEYS"],
                                               app.config["MOJULE"]["DATA_KEY_DAYS"])
    app.extensions["mojule.partitions"] = Partitions()
    app.extensions["mojule.unattributed_orgs"] = UnattributedOrgs()
    # The schema this code was written for, as the worker starts: /readyz compares the
    # database with it, not with the files a newer release installs under a running worker.
    app.extensions["mojule.migrations"] = schema.available_migrations()
    # The license policy's decision, re-evaluated every MOJULE_LICENSE_CHECK_SECONDS.
    app.extensions["mojule.policy"] = IngestPolicy(
        trusted_keys(app.config["MOJULE"]["LICENSE_PUBLIC_KEYS"]),
        app.config["MOJULE"]["LICENSE_CHECK_SECONDS"])
    # Every request is authenticated unless its view is marked @public.
    auth.init_app(app)
    # An authenticated upload refused is read to its end (within bounds) before the
    # answer, so a client still sending it hears the answer rather than a reset connection.
    body.init_app(app)
    # All errors leave as JSON; unexpected ones are logged with a traceback.
    errors.init_app(app)
    # A parameter with a NUL character is a 400 (PostgreSQL's text cannot hold one).
    parameters.init_app(app)

    # Ingest: one blueprint per signal, at the paths exporters build, doubled slashes too.
    for blueprint in (health.bp, logs.bp, metrics.bp, traces.bp):
        app.register_blueprint(blueprint)
    receiver.init_app(app)
    # The read API: usage, sessions, content, audit and exports.
    api.init_app(app)
    # The dashboard: its session cookie, then its pages.
    dashboard.init_app(app)
    return app
