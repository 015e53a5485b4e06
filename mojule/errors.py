"""Our exceptions and the one boundary that turns every error into a JSON answer.

Exceptions are raised deep and translated here. Bodies are ``{"error", "message"}`` plus
the OTLP ``google.rpc.Status`` code, so OTel exporters and people both can read them.
A transient database failure is a 503 with a short Retry-After: exporters retry 503 but
silently drop data on a 500, so 500 is reserved for genuine bugs.
"""
from __future__ import annotations

import logging

import psycopg
from flask import Flask, current_app, g, jsonify
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

from mojule.crypto import KeyUnwrapError

log = logging.getLogger("mojule")

# HTTP status -> google.rpc.Code, the `code` of an error's google.rpc.Status-shaped body:
# the gRPC-to-HTTP mapping of google/rpc/code.proto read backwards (400 -> INVALID_ARGUMENT,
# 404 -> NOT_FOUND, 503 -> UNAVAILABLE ...). Exporters act on the HTTP status alone.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 3, 415: 3,
              429: 8, 502: 14, 503: 14, 504: 14}


class MojuleError(Exception):
    """Something went wrong."""

    status = 500
    error = "internal_error"

    def __init__(self, message: str | None = None):
        super().__init__(message or self.__doc__)
        self.message = message or self.__doc__


class BadRequest(MojuleError):
    """The request is malformed."""

    status, error = 400, "bad_request"


class Unauthorized(MojuleError):
    """A valid Bearer token is required."""

    status, error = 401, "unauthorized"


class Forbidden(MojuleError):
    """You are not allowed to do this."""

    status, error = 403, "forbidden"


class NotFound(MojuleError):
    """No such resource."""

    status, error = 404, "not_found"


class PayloadTooLarge(MojuleError):
    """The request body is larger than this server accepts."""

    status, error = 413, "payload_too_large"


class UnsupportedMediaType(MojuleError):
    """Only application/json is accepted. Set OTEL_EXPORTER_OTLP_PROTOCOL=http/json."""

    status, error = 415, "unsupported_media_type"


class ServiceUnavailable(MojuleError):
    """The service is temporarily unavailable; retry shortly."""

    status, error = 503, "unavailable"

    def __init__(self, message: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""
    app.register_error_handler(MojuleError, handle_mojule_error)
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(psycopg.OperationalError, _handle_database_unavailable)
    app.register_error_handler(PoolTimeout, _handle_database_unavailable)
    app.register_error_handler(KeyUnwrapError, _handle_wrong_master_key)
    app.register_error_handler(Exception, _handle_unexpected)


def error_response(status: int, error: str, message: str, headers: dict | None = None):
    """Return the JSON error answer used for every non-2xx response."""
    body = {"error": error, "message": message, "code": GRPC_CODES.get(status, 2)}
    return jsonify(body), status, headers or {}


def handle_mojule_error(exc: MojuleError):
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, ServiceUnavailable):
        retry_after = exc.retry_after or current_app.config["MOJULE"]["RETRY_AFTER_SECONDS"]
        headers["Retry-After"] = str(retry_after)
    return error_response(exc.status, exc.error, exc.message, headers)


def http_error_response(exc: HTTPException):
    """The JSON answer to an error that routing or Werkzeug raised (404, 405, 413...)."""
    if exc.code == 413:
        return error_response(413, "payload_too_large", PayloadTooLarge.__doc__)
    name = (exc.name or "error").lower().replace(" ", "_")
    # Keep the headers the status calls for, such as the Allow of a 405.
    headers = {key: value for key, value in exc.get_headers() if key.lower() != "content-type"}
    return error_response(exc.code or 500, name, exc.description or exc.name, headers)


def _handle_database_unavailable(exc: Exception):
    log.warning("database unavailable: %s", type(exc).__name__,
                extra={"request_id": g.get("request_id")})
    return handle_mojule_error(ServiceUnavailable("The database is unavailable; retry shortly."))


# How long an exporter should wait before retrying while the master key is wrong: the
# operator has to fix the configuration, so there is no point in retrying every 2 s.
WRONG_MASTER_KEY_RETRY_AFTER = 60


def _handle_wrong_master_key(exc: KeyUnwrapError):
    # A master key that opens none of the org's stored keys is the server's configuration,
    # not the request: a 503 the exporter retries, where a 500 would make it drop the data.
    log.error("master key cannot open the org's keys: %s", exc,
              extra={"request_id": g.get("request_id")})
    return handle_mojule_error(ServiceUnavailable(
        "The server cannot open this org's encryption keys with its master key; the "
        "operator must configure the key they were wrapped with.",
        retry_after=WRONG_MASTER_KEY_RETRY_AFTER))


def _handle_unexpected(exc: Exception):
    # Database errors that are transient by nature (timeouts, serialization, admin shutdown)
    # are retryable; anything else is a bug and is logged with its traceback.
    if isinstance(exc, (psycopg.errors.QueryCanceled, psycopg.errors.SerializationFailure,
                        psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable,
                        psycopg.errors.AdminShutdown, psycopg.errors.CannotConnectNow,
                        psycopg.errors.InsufficientResources)):
        return _handle_database_unavailable(exc)
    log.exception("unhandled error", extra={"request_id": g.get("request_id")})
    return error_response(500, "internal_error", "Internal error; it has been logged.")
