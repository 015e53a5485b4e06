"""Prometheus metrics at GET /metrics: requests, ingested records, latency, database errors
and the license policy's state.

Under gunicorn every worker counts for itself, in files under PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, set up by gunicorn.conf.py before the workers
start), and whichever worker answers a scrape adds up all of them; so the numbers are the
server's, not one worker's. Without that variable (tests, `flask run`) the counts are the
process's own. /metrics answers only MOJULE_METRICS_ALLOW networks; others get 404.
"""
from __future__ import annotations

import logging
import os
import time

import psycopg
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from mojule.auth import public
from mojule.db import get_connection
from mojule.errors import NotFound
from mojule.ingest import Batch, Stored
from mojule.request_log import address_within, client_address

log = logging.getLogger("mojule.observability")

bp = Blueprint("observability", __name__)

INGEST_BLUEPRINTS = ("logs", "metrics", "traces")

REQUESTS = Counter(
    "mojule_http_requests_total", "HTTP requests answered, by route template and status.",
    ["method", "route", "status"])
INGEST_RECORDS = Counter(
    "mojule_ingest_records_total",
    "Records received at ingest, by signal and outcome: stored (new), duplicate (already "
    "stored, e.g. a retried export) or skipped (malformed).", ["signal", "outcome"])
INGEST_LATENCY = Histogram(
    "mojule_ingest_request_duration_seconds",
    "Time to answer an ingest request, by signal and status class.", ["signal", "status_class"])
DATABASE_ERRORS = Counter(
    "mojule_database_errors_total",
    "Requests answered 503 because the database was unreachable or failed transiently.")
# Set by whichever worker scrapes, just before it answers: the most recent value wins.
INGEST_PAUSED = Gauge(
    "mojule_ingest_paused", "1 while the license policy pauses ingestion, else 0.",
    multiprocess_mode="livemostrecent")
SEATS_IN_USE = Gauge(
    "mojule_license_seats_in_use", "Seats (people) seen in the trailing 30 days, each id counted as its seat.",
    multiprocess_mode="livemostrecent")
SEATS_LICENSED = Gauge(
    "mojule_license_seats", "Seats licensed (the evaluation allowance without a license).",
    multiprocess_mode="livemostrecent")


def init_app(app: Flask) -> None:
    """Time and count every request; serve /metrics.

    Registered before the authentication hook, so refused requests are timed and counted.
    """
    app.before_request(_start_timer)
    app.after_request(_count_request)
    app.register_blueprint(bp)


def count_records(batch: Batch, stored: Stored) -> None:
    """Count what an ingest request stored, found already stored, and skipped."""
    INGEST_RECORDS.labels(batch.signal, "stored").inc(stored.inserted)
    INGEST_RECORDS.labels(batch.signal, "duplicate").inc(stored.duplicates)
    INGEST_RECORDS.labels(batch.signal, "skipped").inc(batch.skipped_total)


@bp.get("/metrics")
@public
def metrics():
    """Return the metrics in Prometheus' text format, to allowed networks only."""
    if not _scraper_allowed():
        raise NotFound()
    _observe_policy()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _scraper_allowed() -> bool:
    config = current_app.config["MOJULE"]
    peer = request.environ.get("REMOTE_ADDR", "")
    if "X-Forwarded-For" in request.headers and not address_within(peer, config["TRUSTED_PROXIES"]):
        # Forwarded by a proxy nobody declared (MOJULE_TRUSTED_PROXIES): the peer is that
        # proxy, often on loopback, and the real client is unknown.
        log.info("/metrics refused: forwarded by %s, not a trusted proxy", peer)
        return False
    address = client_address()
    if not address_within(address, config["METRICS_ALLOW"]):
        log.info("/metrics refused: %s is not in MOJULE_METRICS_ALLOW", address)
        return False
    return True


def _observe_policy() -> None:
    # The metrics must still be served while the database is down: that is when they matter.
    try:
        decision = current_app.extensions["mojule.policy"].decision(get_connection())
    except psycopg.Error as exc:
        log.warning("/metrics: license policy not refreshed: %s", type(exc).__name__)
        return
    INGEST_PAUSED.set(1 if decision.paused else 0)
    SEATS_IN_USE.set(decision.seats_in_use)
    SEATS_LICENSED.set(decision.seats_licensed)


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule else "(unmatched)"
    REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    if response.status_code == 503 and _database_failed(response):
        DATABASE_ERRORS.inc()
    if request.blueprint in INGEST_BLUEPRINTS and "request_started" in g:
        INGEST_LATENCY.labels(request.blueprint, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - g.request_started)
    return response


def _database_failed(response: Response) -> bool:
    # The error boundary answers every database failure as 503 "unavailable"; the license
    # pause, the other 503, says "ingestion_paused".
    body = response.get_json(silent=True)
    return isinstance(body, dict) and body.get("error") == "unavailable"
