"""Request ids and the app's log format: every log line names the request it belongs to.

An incoming ``X-Request-ID`` (from nginx) is kept when it looks sane, otherwise a new one
is made; the id goes back in the response header and into every log line and audit row.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import uuid

from flask import Flask, current_app, g, has_request_context, request

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


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
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.propagate = False
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex


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
    if not trusted or not _within(address, trusted):
        return address
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _within(hop, trusted):
            return hop
        address = hop
    return address


def _within(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
