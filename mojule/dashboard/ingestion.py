"""Whether ingestion runs or is paused by the license policy, for the banner and license page.

The banner shows the state the policy last recorded (``license.ingestion_state``), which
is what senders are getting; the license page adds the facts the policy decides on.
"""
from __future__ import annotations

from flask import current_app, g

from mojule import license, policy
from mojule.db import get_connection


def ingestion_state() -> license.IngestionState:
    """Return the recorded ingestion state, read once per request."""
    if "dashboard_ingestion" not in g:
        g.dashboard_ingestion = license.ingestion_state(get_connection())
    return g.dashboard_ingestion


def policy_decision() -> policy.Decision:
    """Return what the license policy decides now: license, seats, reasons and notes."""
    keys = license.trusted_keys(current_app.config["MOJULE"]["LICENSE_PUBLIC_KEYS"])
    return policy.evaluate(get_connection(), keys)
