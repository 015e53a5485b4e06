"""POST /v1/logs: Claude Code events (OTLP log records).

Same steps as metrics.py and traces.py: authenticate (hook), read and decode the body,
validate, transform to rows, store, answer.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint

from mojule import otlp
from mojule.auth import ingest_token_required
from mojule.content import LOG_BODY, ContentPolicy
from mojule.ingest import (
    Batch,
    Malformed,
    content_keys,
    enum,
    jsonb,
    otlp_extra,
    scope_columns,
    timestamp,
)
from mojule.receiver import receive
from mojule.usage import amount, boolean, count, duration, integer, text, unattributed

bp = Blueprint("logs", __name__)


@bp.post("/v1/logs")
@bp.post("/api/ingest/otlp/logs")
@bp.post("/api/ingest/otlp/v1/logs")
@ingest_token_required
def ingest_logs():
    """Store an OTLP/JSON ExportLogsServiceRequest and answer 202 with counts."""
    return receive(log_batch)


def log_batch(payload, policy: ContentPolicy, org_id: int) -> Batch:
    """Return the batch of log_events rows for a decoded export request."""
    batch = Batch(signal="logs", table="log_events", identity_column=2)
    for record in otlp.iter_logs(payload):
        if isinstance(record, otlp.Skipped):
            batch.skip(record.reason)
            continue
        try:
            _add_record(batch, policy, org_id, record)
        except Malformed as exc:
            batch.skip(str(exc))
    return batch


# Claude Code's events are named claude_code.<event> in full.
EVENT_PREFIX = "claude_code."


def event_name(record: otlp.LogRecord, usage: dict, sent_name: str | None) -> str:
    """Return the event's short name: ``event.name``, the OTLP eventName (``sent_name``,
    None when it is content), or the body.

    The short name is what reports count (api_request, tool_result ...): a full name
    (claude_code.api_request), as the body spells it and another exporter may put in
    either field, loses its prefix.
    """
    name = text(usage.get("event.name")) or text(sent_name)
    if not name and isinstance(record.body, str) and record.body.startswith(EVENT_PREFIX):
        name = text(record.body)
    if name and name.startswith(EVENT_PREFIX) and len(name) > len(EVENT_PREFIX):
        name = name.removeprefix(EVENT_PREFIX)
    return name or "log"


def record_time(record: otlp.LogRecord) -> datetime:
    """Return when a log record happened: its time, or, when that is out of range (a
    device whose clock is wrong), the time the exporter observed it, as logs.proto has it
    for a record without a time. Raises Malformed when neither is in range."""
    try:
        return timestamp(record.time_unix_nano)
    except Malformed:
        observed = record.observed_time_unix_nano
        if not observed or observed == record.time_unix_nano:
            raise
        return timestamp(observed)


def _add_record(batch: Batch, policy: ContentPolicy, org_id: int, record: otlp.LogRecord) -> None:
    time = record_time(record)
    # Typed columns are read from what is left once content is split out, so a key an
    # operator declares content never reaches a plaintext column.
    usage, content = policy.split(record.attributes)
    resource, resource_content, resource_json = batch.resource_view(policy, record.resource)
    extra, scope_content = otlp_extra(policy, record.scope_extra, flags=record.flags,
                                      dropped_attributes=record.dropped_attributes)
    content = {**content, **resource_content, **scope_content}
    scope_name, scope_version = scope_columns(policy, record, content)
    severity_text = policy.take_long_text(content, "severity_text", record.severity_text)
    name = event_name(record, usage, policy.take_long_text(content, "event_name",
                                                           record.event_name))
    # Claude Code's body only repeats the event name; any other body is a message: content.
    if record.body is not None and record.body != EVENT_PREFIX + name:
        content[LOG_BODY] = record.body
    ctx = batch.context(usage, resource)
    if ctx.session_id is None:
        ctx = unattributed(ctx, time)
    seat = ctx.seat
    get = usage.get
    row = (
        org_id, time, record.identity, record.time_unix_nano,
        record.observed_time_unix_nano or None, ctx.session_id, name,
        integer(get("event.sequence")), text(get("prompt.id")), seat.identity, seat.email,
        seat.account_uuid, seat.user_id, seat.organization_uuid, ctx.terminal_type,
        ctx.app_version, ctx.service_name, text(get("model")),
        count(get("input_tokens")), count(get("output_tokens")),
        count(get("cache_read_tokens")), count(get("cache_creation_tokens")),
        amount(get("cost_usd")), count(get("cost_usd_micros")), duration(get("duration_ms")),
        text(get("tool_name")), text(get("decision") or get("decision_type")),
        text(get("decision_source") or get("source")), boolean(get("success")),
        text(get("error_type")), integer(get("status_code"), bits=32),
        integer(get("attempt") or get("total_attempts"), bits=32),
        enum(record.severity_number) or None, severity_text or None,
        record.trace_id, record.span_id, scope_name, scope_version, content_keys(content),
        jsonb(usage), resource_json, extra,
    )
    batch.add(row, record.identity, time, ctx, resource, content)
