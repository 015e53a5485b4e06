"""POST /v1/metrics: Claude Code metrics (OTLP metric data points).

Same steps as logs.py and traces.py: authenticate (hook), read and decode the body,
validate, transform to rows, store, answer. Points keep their temporality, start time and
time, so cumulative series can be turned into exact deltas when usage is read.

A point's exemplars are stored in its otlp_extra, as ``exemplars``: a list of
{time_unix_nano, value, trace_id, span_id, filtered_attributes, dropped_attributes,
content_keys}, with the content of the filtered attributes split out and stored encrypted
as ``exemplar.<i>.<key>``; ``dropped_exemplars`` counts those that could not be decoded.
No figure reads them: their values are already in the point's.
"""
from __future__ import annotations

from flask import Blueprint

from mojule import otlp
from mojule.auth import ingest_token_required
from mojule.content import ContentPolicy
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
from mojule.usage import MAX_TEXT_LENGTH, decimal, text, unattributed

bp = Blueprint("metrics", __name__)


@bp.post("/v1/metrics")
@bp.post("/api/ingest/otlp/metrics")
@bp.post("/api/ingest/otlp/v1/metrics")
@ingest_token_required
def ingest_metrics():
    """Store an OTLP/JSON ExportMetricsServiceRequest and answer 202 with counts."""
    return receive(metric_batch)


def metric_batch(payload, policy: ContentPolicy, org_id: int) -> Batch:
    """Return the batch of metric_points rows for a decoded export request."""
    batch = Batch(signal="metrics", table="metric_points", identity_column=2)
    for point in otlp.iter_metric_points(payload):
        if isinstance(point, otlp.Skipped):
            batch.skip(point.reason)
            continue
        try:
            _add_point(batch, policy, org_id, point)
        except Malformed as exc:
            batch.skip(str(exc))
    return batch


# Claude Code counts the process behind its `claude agents` view with a session.count
# point of this start_type: that process is not a session (migration 0009).
SESSION_COUNT = "claude_code.session.count"
AGENTS_VIEW = "agents_view"


# Claude Code's usage metrics, every one a counter (the accounting reads them as such,
# migration 0003): a negative point would subtract from an org's cost, tokens, lines or
# time, so it is refused whatever the exporter says of the series. The OTLP data model
# allows no monotonic sum a negative value either.
CLAUDE_CODE_COUNTERS = frozenset({
    "claude_code.session.count", "claude_code.cost.usage", "claude_code.token.usage",
    "claude_code.lines_of_code.count", "claude_code.commit.count",
    "claude_code.pull_request.count", "claude_code.code_edit_tool.decision",
    "claude_code.active_time.total",
})


def _add_point(batch: Batch, policy: ContentPolicy, org_id: int, point: otlp.MetricPoint) -> None:
    # Any kind for Claude Code's names: the accounting also reads a gauge of one.
    if point.value is not None and point.value < 0 and (
            (point.kind == "sum" and point.is_monotonic)
            or point.metric_name in CLAUDE_CODE_COUNTERS):
        raise Malformed(f"a counter's data point is negative ({point.metric_name})")
    time = timestamp(point.time_unix_nano)
    if len(point.metric_name) > MAX_TEXT_LENGTH:
        raise Malformed("metric name too long")
    # Typed columns are read from what is left once content is split out, so a key an
    # operator declares content never reaches a plaintext column.
    usage, content = policy.split(point.attributes)
    resource, resource_content, resource_json = batch.resource_view(policy, point.resource)
    exemplars, exemplar_content = policy.split_parts(point.exemplars, "exemplar",
                                                     "filtered_attributes")
    extra, extra_content = otlp_extra(
        policy, point.scope_extra, value=point.value_not_finite, flags=point.flags,
        dropped_attributes=point.dropped_attributes,
        description=point.description, metadata=point.metadata,
        metadata_dropped_attributes=point.metadata_dropped_attributes, exemplars=exemplars,
        dropped_exemplars=point.dropped_exemplars)
    content = {**content, **resource_content, **extra_content, **exemplar_content}
    scope_name, scope_version = scope_columns(policy, point, content)
    unit = policy.take_long_text(content, "unit", point.unit) or ""
    ctx = batch.context(usage, resource)
    if ctx.session_id is None:
        ctx = unattributed(ctx, time)
    seat = ctx.seat
    get = usage.get
    row = (
        org_id, time, point.identity, point.series_hash, point.metric_name, point.kind,
        enum(point.temporality), point.is_monotonic, unit, point.start_time_unix_nano,
        point.time_unix_nano, decimal(point.value),
        None if point.distribution is None else jsonb(point.distribution),
        ctx.session_id, seat.identity, seat.email, seat.account_uuid, seat.user_id,
        seat.organization_uuid, ctx.terminal_type, ctx.app_version, ctx.service_name,
        text(get("model")), text(get("type")), text(get("tool_name")), text(get("decision")),
        text(get("language")), scope_name, scope_version, content_keys(content),
        jsonb(usage), resource_json, extra,
    )
    batch.add(row, point.identity, time, ctx, resource, content)
    # A point sent without session.id says nothing about the seat's unattributed session.
    if (point.metric_name == SESSION_COUNT and get("start_type") == AGENTS_VIEW
            and not ctx.unattributed):
        batch.sessions[ctx.session_id].agents_view = True
