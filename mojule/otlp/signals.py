"""Decoding log records and spans (metric_points.py decodes metric data points)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mojule.otlp.containers import (
    LOG_CONTENT,
    SPAN_CONTENT,
    SPAN_LATER,
    decoded_parts,
    decoded_records,
    record_identity,
    top_list,
)
from mojule.otlp.fields import (
    SEVERITIES,
    SPAN_KINDS,
    STATUS_CODES,
    TIMESTAMP,
    UINT32,
    count_or_zero,
    enum_field,
    hex_id,
    id_or_none,
    int_field,
    list_field,
    message_field,
    object_field,
    text_field,
)
from mojule.otlp.records import LogRecord, Malformed, Scope, Skipped, Span
from mojule.otlp.values import decode_any, decode_attributes


def _log_record(record: Any, scope: Scope) -> LogRecord:
    """Return one decoded log record; raise Malformed if it cannot be stored."""
    if type(record) is not dict:
        raise Malformed("log record is not an object")
    observed = int_field(record, "observedTimeUnixNano", TIMESTAMP)
    # logs.proto: use the observed time when the event time is unknown.
    time = int_field(record, "timeUnixNano", TIMESTAMP) or observed
    if not time:
        raise Malformed("log record has no timeUnixNano")
    attributes, dropped = decode_attributes(record.get("attributes"))
    try:
        body = decode_any(record.get("body"), 1)
    except Malformed:
        # The body is one value among the attributes; losing it must not lose the event.
        body = None
        dropped += 1
    log = LogRecord(
        resource=scope.resource,
        scope_name=scope.name,
        scope_version=scope.version,
        scope_extra=scope.extra,
        time_unix_nano=time,
        observed_time_unix_nano=observed,
        severity_number=enum_field(record, "severityNumber", SEVERITIES),
        severity_text=text_field(record, "severityText"),
        body=body,
        attributes=attributes,
        dropped_attributes=dropped + int_field(record, "droppedAttributesCount", UINT32),
        trace_id=id_or_none(record, "traceId", 32),
        span_id=id_or_none(record, "spanId", 16),
        flags=int_field(record, "flags", UINT32),
        event_name=text_field(record, "eventName"),
        identity=b"",
    )
    log.identity = record_identity(scope, log, LOG_CONTENT)
    return log


def _event(event: Any) -> dict:
    if type(event) is not dict:
        raise Malformed("span event is not an object")
    attributes, dropped = decode_attributes(event.get("attributes"))
    return {
        "name": text_field(event, "name"),
        "time_unix_nano": int_field(event, "timeUnixNano", TIMESTAMP),
        "attributes": attributes,
        "dropped_attributes": dropped + int_field(event, "droppedAttributesCount", UINT32),
    }


def _link(link: Any) -> dict:
    if type(link) is not dict:
        raise Malformed("span link is not an object")
    trace_id = hex_id(link, "traceId", 32)
    span_id = hex_id(link, "spanId", 16)
    if trace_id is None or span_id is None:
        raise Malformed("span link has no traceId or spanId")
    attributes, dropped = decode_attributes(link.get("attributes"))
    decoded = {
        "trace_id": trace_id,
        "span_id": span_id,
        "trace_state": text_field(link, "traceState"),
        "attributes": attributes,
        "dropped_attributes": dropped + int_field(link, "droppedAttributesCount", UINT32),
    }
    flags = int_field(link, "flags", UINT32)
    if flags:
        # Only when sent, so that the spans of links without flags keep their identity.
        decoded["flags"] = flags
    return decoded


def _span(span: Any, scope: Scope) -> Span:
    """Return one decoded span; raise Malformed if it cannot be stored."""
    if type(span) is not dict:
        raise Malformed("span is not an object")
    trace_id = hex_id(span, "traceId", 32)
    span_id = hex_id(span, "spanId", 16)
    if trace_id is None or span_id is None:
        raise Malformed("span has no traceId or spanId")
    start = int_field(span, "startTimeUnixNano", TIMESTAMP)
    if not start:
        raise Malformed("span has no startTimeUnixNano")
    attributes, dropped = decode_attributes(span.get("attributes"))
    status = object_field(span, "status")
    decoded = Span(
        resource=scope.resource,
        scope_name=scope.name,
        scope_version=scope.version,
        scope_extra=scope.extra,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=id_or_none(span, "parentSpanId", 16),
        trace_state=text_field(span, "traceState"),
        name=text_field(span, "name"),
        kind=enum_field(span, "kind", SPAN_KINDS),
        start_time_unix_nano=start,
        end_time_unix_nano=int_field(span, "endTimeUnixNano", TIMESTAMP),
        attributes=attributes,
        dropped_attributes=dropped + int_field(span, "droppedAttributesCount", UINT32),
        events=decoded_parts(list_field(span, "events"), _event),
        links=decoded_parts(list_field(span, "links"), _link),
        status_code=enum_field(status, "code", STATUS_CODES),
        status_message=message_field(status, "message"),
        flags=int_field(span, "flags", UINT32),
        dropped_events=count_or_zero(span, "droppedEventsCount"),
        dropped_links=count_or_zero(span, "droppedLinksCount"),
        identity=b"",
    )
    decoded.identity = record_identity(scope, decoded, SPAN_CONTENT, SPAN_LATER)
    return decoded


def iter_logs(payload: Any) -> Iterator[LogRecord | Skipped]:
    """Return an iterator over the records of an ExportLogsServiceRequest.

    It yields a LogRecord per record, or a Skipped per record, or per container
    entry, that cannot be stored. Raises Malformed at once when the payload is
    not an object or resourceLogs is not a list.
    """
    return decoded_records(top_list(payload, "resourceLogs"), "scopeLogs", "logRecords", _log_record)


def iter_spans(payload: Any) -> Iterator[Span | Skipped]:
    """Return an iterator over the spans of an ExportTraceServiceRequest.

    It yields a Span per span, or a Skipped per span, or per container entry,
    that cannot be stored. Raises Malformed at once when the payload is not an
    object or resourceSpans is not a list.
    """
    return decoded_records(top_list(payload, "resourceSpans"), "scopeSpans", "spans", _span)
