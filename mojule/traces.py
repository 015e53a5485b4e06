"""POST /v1/traces: Claude Code spans (OTLP traces, "enhanced telemetry").

Same steps as logs.py and metrics.py: authenticate (hook), read and decode the body,
validate, transform to rows, store, answer. Orphan spans are kept: a parent that was never
exported is normal for Claude Code.
"""
from __future__ import annotations

from flask import Blueprint

from mojule import otlp
from mojule.auth import ingest_token_required
from mojule.content import (
    CONTENT_SPAN_EVENTS,
    MAX_KEY_LENGTH,
    STATUS_MESSAGE,
    ContentPolicy,
    span_events_are_content,
)
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
from mojule.usage import boolean, count, duration, text

bp = Blueprint("traces", __name__)


@bp.post("/v1/traces")
@bp.post("/api/ingest/otlp/traces")
@bp.post("/api/ingest/otlp/v1/traces")
@ingest_token_required
def ingest_traces():
    """Store an OTLP/JSON ExportTraceServiceRequest and answer 202 with counts."""
    return receive(span_batch)


def span_batch(payload, policy: ContentPolicy, org_id: int) -> Batch:
    """Return the batch of spans rows for a decoded export request."""
    batch = Batch(signal="traces", table="spans", identity_column=4)
    for span in otlp.iter_spans(payload):
        if isinstance(span, otlp.Skipped):
            batch.skip(span.reason)
            continue
        try:
            _add_span(batch, policy, org_id, span)
        except Malformed as exc:
            batch.skip(str(exc))
    return batch


def split_span_content(policy: ContentPolicy, span: otlp.Span) -> tuple[dict, list, list, dict]:
    """Return (usage attributes, events, links, content) with content split out.

    Content of events and links is named ``event.<i>.<key>`` and ``link.<i>.<key>``; the
    stored events and links list the names of what was taken out. An event's name or a
    link's trace state as long as content is content too (ContentPolicy.take_long_text).
    """
    usage, content = policy.split(span.attributes)
    content = dict(content)
    if span.status_message:
        content[STATUS_MESSAGE] = span.status_message
    events = []
    all_content = span_events_are_content(span.name)
    for index, event in enumerate(span.events):
        name = policy.take_long_text(content, f"event.{index}.name", event["name"]) or ""
        if all_content or event["name"] in CONTENT_SPAN_EVENTS:
            # As policy.split does: a key too long to index cannot be stored encrypted.
            kept, taken = {}, {key: value for key, value in event["attributes"].items()
                               if len(key) <= MAX_KEY_LENGTH}
        else:
            kept, taken = policy.split(event["attributes"])
        content.update({f"event.{index}.{key}": value for key, value in taken.items()})
        events.append({"name": name, "time_unix_nano": event["time_unix_nano"],
                       "attributes": kept, "dropped_attributes": event["dropped_attributes"],
                       "content_keys": sorted(taken)})
    links, link_content = policy.split_parts(span.links, "link")
    content.update(link_content)
    for index, link in enumerate(links):
        link["trace_state"] = policy.take_long_text(
            content, f"link.{index}.trace_state", link["trace_state"]) or ""
    return usage, events, links, content


def _add_span(batch: Batch, policy: ContentPolicy, org_id: int, span: otlp.Span) -> None:
    start = timestamp(span.start_time_unix_nano)
    # Typed columns are read from what is left once content is split out, so a key an
    # operator declares content never reaches a plaintext column.
    usage, events, links, content = split_span_content(policy, span)
    resource, resource_content, resource_json = batch.resource_view(policy, span.resource)
    extra, scope_content = otlp_extra(policy, span.scope_extra, flags=span.flags,
                                      trace_state=span.trace_state,
                                      dropped_attributes=span.dropped_attributes,
                                      dropped_events=span.dropped_events,
                                      dropped_links=span.dropped_links)
    content.update(resource_content)
    content.update(scope_content)
    scope_name, scope_version = scope_columns(policy, span, content)
    name = policy.take_long_text(content, "name", span.name) or ""
    ctx = batch.context(usage, resource)
    seat = ctx.seat
    get = usage.get
    duration_ms = duration(get("duration_ms"))
    if duration_ms is None and span.end_time_unix_nano >= span.start_time_unix_nano:
        duration_ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
    row = (
        org_id, start, span.trace_id, span.span_id, span.identity, span.parent_span_id,
        name, enum(span.kind), span.start_time_unix_nano, span.end_time_unix_nano,
        duration_ms, enum(span.status_code), ctx.session_id, seat.identity, seat.email,
        seat.account_uuid, seat.user_id, seat.organization_uuid, ctx.terminal_type,
        ctx.app_version, ctx.service_name, text(get("model")), text(get("tool_name")),
        count(get("input_tokens")), count(get("output_tokens")),
        count(get("cache_read_tokens")), count(get("cache_creation_tokens")),
        boolean(get("success")), scope_name, scope_version, content_keys(content),
        jsonb(usage), jsonb(events), jsonb(links), resource_json, extra,
    )
    batch.add(row, span.identity, start, ctx, resource, content)
