"""The steps every signal endpoint shares: read, decode, store, answer 202.

The 202 body is the API reference's (accepted, counts, sessionIds, skipped). When records
were skipped it also carries an OTLP ``partialSuccess`` so standard exporters report it;
they do not retry a partial success, and one bad record never costs the others.
"""
from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, jsonify, request

from mojule import otlp
from mojule.body import check_media_type, read_otlp_json
from mojule.content import ContentPolicy
from mojule.db import get_connection
from mojule.errors import BadRequest
from mojule.ingest import Batch, session_ids, store
from mojule.observability import count_records

COUNT_NAMES = {"logs": "logEvents", "metrics": "metricPoints", "traces": "spans"}
REJECTED_NAMES = {"logs": "rejectedLogRecords", "metrics": "rejectedDataPoints",
                  "traces": "rejectedSpans"}
TOP_LEVEL_KEYS = {"logs": ("resourceLogs", "resource_logs"),
                  "metrics": ("resourceMetrics", "resource_metrics"),
                  "traces": ("resourceSpans", "resource_spans")}
MAX_REASONS = 5
# The paths of the signal endpoints (logs.py, metrics.py, traces.py), once runs of slashes
# are read as one.
INGEST_PATH = re.compile(r"^/(v1|api/ingest/otlp(/v1)?)/(logs|metrics|traces)$")
SLASHES = re.compile(r"/{2,}")


def init_app(app: Flask) -> None:
    """Route an export to ``/api/ingest/otlp//v1/logs`` as to ``/api/ingest/otlp/v1/logs``.

    An exporter given a base endpoint that ends in a slash may build such a path.
    Werkzeug would answer it with a 308 redirect, which OTLP exporters do not follow:
    they drop the batch. Other paths keep Werkzeug's redirect, which browsers follow.
    """
    wsgi_app = app.wsgi_app

    def merged_slashes(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if "//" in path and INGEST_PATH.match(merged := SLASHES.sub("/", path)):
            environ["PATH_INFO"] = merged
        return wsgi_app(environ, start_response)

    app.wsgi_app = merged_slashes


def content_policy() -> ContentPolicy:
    """Return the app's content policy (built once per worker from the config)."""
    policy = current_app.extensions.get("mojule.content_policy")
    if policy is None:
        config = current_app.config["MOJULE"]
        policy = ContentPolicy(config["CONTENT_KEYS"], config["CONTENT_LONG_STRING"])
        current_app.extensions["mojule.content_policy"] = policy
    return policy


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector for the length of one ingest request.

    A decoded export request is a tree of some 10^5 dicts and lists that lives until the
    answer: it survives the young collections its own allocation triggers and is promoted,
    so a request of 512 records also sets off a full collection every few requests, each
    walking every object of the worker (9% of an ingest's CPU). Nothing a request builds
    needs the cycle collector: the tree goes by reference counting once the request ends,
    before collection resumes; whatever cycles an error leaves are collected after.
    """
    if not gc.isenabled():      # already paused (another thread's request), or by the host
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def receive(build_batch: Callable[[Any, ContentPolicy, int], Batch]):
    """Handle one export request for the signal ``build_batch`` decodes."""
    # The request's objects are freed as _receive returns, before collection resumes.
    with gc_paused():
        return _receive(build_batch)


def _receive(build_batch: Callable[[Any, ContentPolicy, int], Batch]):
    config = current_app.config["MOJULE"]
    # Authenticated already. A body of a type Mojule never reads gets its 415 even while
    # paused, so that a protobuf exporter is told to switch rather than to retry; then a
    # paused installation refuses before the body is read.
    check_media_type(request)
    current_app.extensions["mojule.policy"].check(get_connection())
    payload = read_otlp_json(request, config["MAX_BODY_BYTES"])
    org_id = g.ingest.org_id
    if not isinstance(payload, dict):
        raise BadRequest("The request body must be a JSON object (an OTLP export request).")
    try:
        batch = build_batch(payload, content_policy(), org_id)
    except otlp.Malformed as exc:
        raise BadRequest(f"Malformed export request: {exc}.") from None
    stored = store(get_connection(), org_id, batch, current_app.extensions["mojule.keyring"],
                   current_app.extensions["mojule.partitions"],
                   current_app.extensions["mojule.unattributed_orgs"])
    count_records(batch, stored)
    return jsonify(_answer(batch, payload, stored.inserted + stored.duplicates,
                           stored.duplicates)), 202


def _answer(batch: Batch, payload: dict, accepted: int, duplicates: int) -> dict:
    counts = {name: 0 for name in COUNT_NAMES.values()}
    counts[COUNT_NAMES[batch.signal]] = accepted
    answer = {
        "accepted": True,
        "counts": counts,
        "sessionIds": session_ids([batch]),
        "skipped": batch.skipped_total,
        "duplicates": duplicates,
    }
    message = _warning(batch, payload)
    if batch.skipped_total or message:
        answer["partialSuccess"] = {
            REJECTED_NAMES[batch.signal]: str(batch.skipped_total),
            "errorMessage": message,
        }
    return answer


def _warning(batch: Batch, payload: dict) -> str:
    if batch.skipped:
        reasons = "; ".join(f"{reason} ({count})"
                            for reason, count in batch.skipped.most_common(MAX_REASONS))
        return f"Skipped {batch.skipped_total} malformed record(s): {reasons}."
    if not any(key in payload for key in TOP_LEVEL_KEYS[batch.signal]):
        others = [signal for signal, keys in TOP_LEVEL_KEYS.items()
                  if signal != batch.signal and any(key in payload for key in keys)]
        if others:
            return (f"This is the {batch.signal} endpoint but the request holds "
                    f"{others[0]}; check the exporter's per-signal endpoint.")
    return ""
