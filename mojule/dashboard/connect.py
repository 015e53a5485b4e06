"""Connect Claude Code: the environment variables and the managed-settings file for this org.

The variables point Claude Code's OpenTelemetry exporters at this server over OTLP/HTTP
JSON with an ingest token of the org. An admin can make a fresh token right on the page;
it is filled in, shown once, and never stored anywhere but as its digest.
"""
from __future__ import annotations

import json
import re
import shlex

from flask import render_template, request

from mojule.auth import signed_in
from mojule.dashboard import reauth
from mojule.dashboard.admin import create_ingest_token
from mojule.dashboard.web import (
    external_url,
    page_blueprint,
    require_admin,
    viewer_last_seen,
)

bp = page_blueprint("connect")
TOKEN_PLACEHOLDER = "mtk_PASTE_AN_INGEST_TOKEN_HERE"
# OTEL_RESOURCE_ATTRIBUTES: key=value pairs, comma-separated, no spaces.
RESOURCE_ATTRIBUTES = re.compile(r"^[A-Za-z0-9_.-]+=[^,\s=]+(,[A-Za-z0-9_.-]+=[^,\s=]+)*$")
# Where Claude Code reads managed settings, by operating system.
MANAGED_SETTINGS_PATHS = (
    ("macOS", "/Library/Application Support/ClaudeCode/managed-settings.json"),
    ("Linux and WSL", "/etc/claude-code/managed-settings.json"),
    ("Windows", r"C:\ProgramData\ClaudeCode\managed-settings.json"),
)


def telemetry_environment(endpoint: str, token: str, content: bool,
                          attributes: str) -> dict[str, str]:
    """Return the variables that send Claude Code's telemetry to ``endpoint`` with ``token``."""
    env = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {token}",
    }
    if content:
        env.update(OTEL_LOG_USER_PROMPTS="1", OTEL_LOG_TOOL_DETAILS="1")
    if attributes:
        env["OTEL_RESOURCE_ATTRIBUTES"] = attributes
    return env


@bp.get("/connect")
@signed_in
def connect():
    """The settings with a placeholder token (admins can fill in a fresh one)."""
    return _page(None)


@bp.post("/connect")
@signed_in
def connect_with_token():
    """The settings with a fresh ingest token filled in, shown once."""
    require_admin()
    asked = reauth.ask_unless_typed_recently()
    if asked is not None:
        return asked
    return _page(create_ingest_token("Claude Code (connect page)"))


def _page(token: str | None):
    content = request.values.get("content") == "1"
    attributes = request.values.get("attributes", "").strip()
    error = None
    if attributes and not RESOURCE_ATTRIBUTES.fullmatch(attributes):
        error = "Resource attributes are key=value pairs separated by commas, without spaces."
        attributes = ""
    # This server's own address as the browser reached it (under its path prefix, if
    # any): the exporters add /v1/logs and the rest to it.
    endpoint = external_url("overview.overview").rstrip("/")
    env = telemetry_environment(endpoint, token or TOKEN_PLACEHOLDER, content, attributes)
    last_received = viewer_last_seen()
    return render_template(
        "connect.html", token=token, content=content, attributes=attributes, error=error,
        shell="\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items()),
        managed=json.dumps({"env": env}, indent=2), paths=MANAGED_SETTINGS_PATHS,
        last_received=last_received), 400 if error else 200
