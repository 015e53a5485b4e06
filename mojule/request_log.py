"""Request ids and the log format: every log line is a JSON object naming its request.

An incoming ``X-Request-ID`` (from nginx) is kept when it looks sane, otherwise a new one
is made; the id goes back in the response header and into every log line and audit row.
gunicorn.conf.py writes gunicorn's own lines (access log included) with the same
formatter, so operators parse one format. Log calls pass ids, counts and reasons; never a
token, a password or content.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from flask import Flask, current_app, g, has_request_context, request

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, pid, request_id, message.

    A record's ``fields`` (a dict passed in ``extra``) are added to the object, and a
    traceback goes in ``exception``.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "request_id": getattr(record, "request_id", None) or "-",
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") or record.request_id is None:
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def init_app(app: Flask) -> None:
    """Configure the ``mojule`` logger and register the request-id hooks."""
    logger = logging.getLogger("mojule")
    logger.setLevel(app.config["MOJULE"]["LOG_LEVEL"])
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.propagate = False
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_PATTERN.fullmatch(incoming) else uuid.uuid4().hex


def _echo_request_id(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response


def client_address() -> str:
    """Return the client's IP address.

    The socket's peer, unless that peer is a proxy listed in MOJULE_TRUSTED_PROXIES: then
    the nearest X-Forwarded-For hop that is not itself a trusted proxy. A forged header
    from anywhere else is ignored.
    """
    trusted = current_app.config["MOJULE"]["TRUSTED_PROXIES"]
    address = request.environ.get("REMOTE_ADDR", "")
    if not trusted or not address_within(address, trusted):
        return address
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not address_within(hop, trusted):
            return hop
        address = hop
    return address


def address_within(address: str, networks) -> bool:
    """Return whether the IP ``address`` is in one of ``networks`` (False if not an IP)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
