"""What the decoder yields: one dataclass per signal's record, and a Skipped in place of a
record that could not be decoded."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Malformed(Exception):
    """Raised (internally) for a record that cannot be stored; str(exc) is the short reason."""


@dataclass(slots=True)
class Skipped:
    """A record, or a container of records, that was not decoded."""

    reason: str


@dataclass(slots=True)
class LogRecord:
    """One log record, such as a Claude Code event.

    ``identity`` digests the resource, the scope and every decoded field, so a
    retried record hashes the same and any difference gives another digest.
    """

    resource: dict[str, Any]      # shared by the records of one resource: do not mutate
    scope_name: str
    scope_version: str
    scope_extra: dict[str, Any]   # Scope.extra, shared too
    time_unix_nano: int           # the observed time when the event time is absent
    observed_time_unix_nano: int  # 0 when absent
    severity_number: int
    severity_text: str
    body: Any                     # None when absent, empty or not storable
    attributes: dict[str, Any]
    dropped_attributes: int       # the sender's count plus what was refused here
    trace_id: str | None          # lowercase hex; None when absent or invalid
    span_id: str | None
    flags: int
    event_name: str               # the OTLP eventName field, "" when absent
    identity: bytes


@dataclass(slots=True)
class MetricPoint:
    """One data point of a metric.

    ``series_hash`` digests what identifies the series (resource, scope, name,
    unit, kind, temporality, monotonicity, attributes) so that attribute order
    and 5 against 5.0 do not matter; ``identity`` adds the start and end times
    and the value. Neither digests the exemplars: a retry repeats them, and a point
    stored before they were kept must not be stored again, counted twice, with them.
    """

    resource: dict[str, Any]
    scope_name: str
    scope_version: str
    scope_extra: dict[str, Any]
    metric_name: str
    description: str              # the metric's, "" when absent; not in any digest
    metadata: dict[str, Any]      # the metric's metadata attributes; not in any digest
    metadata_dropped_attributes: int
    unit: str
    kind: str                     # sum, gauge, histogram, exponential_histogram, summary
    temporality: int              # 0 unspecified, 1 delta, 2 cumulative; 0 for gauges
    is_monotonic: bool
    start_time_unix_nano: int     # 0 when absent
    time_unix_nano: int
    value: float | None           # sum and gauge only; an int when sent as asInt
    value_not_finite: str | None  # "NaN", "Infinity" or "-Infinity" (value is then None)
    distribution: dict | None     # the other kinds' fields, under their OTLP names; a
                                  # non-finite sum, min, max or quantile value as "NaN",
                                  # "Infinity" or "-Infinity"
    attributes: dict[str, Any]
    dropped_attributes: int
    # time_unix_nano, value, trace_id, span_id (None when absent), filtered_attributes,
    # dropped_attributes: samples whose values the point already counts.
    exemplars: list[dict]
    dropped_exemplars: int        # those that could not be decoded
    flags: int
    series_hash: bytes
    identity: bytes


@dataclass(slots=True)
class Span:
    """One span; ``identity`` digests all of it, as for LogRecord."""

    resource: dict[str, Any]
    scope_name: str
    scope_version: str
    scope_extra: dict[str, Any]
    trace_id: str
    span_id: str
    parent_span_id: str | None    # None for a root span or an invalid parent id
    trace_state: str
    name: str
    kind: int
    start_time_unix_nano: int
    end_time_unix_nano: int       # 0 when absent
    attributes: dict[str, Any]
    dropped_attributes: int
    events: list[dict]            # name, time_unix_nano, attributes, dropped_attributes
    links: list[dict]             # trace_id, span_id, trace_state, attributes,
                                  # dropped_attributes, and flags when sent (not 0)
    status_code: int              # 0 unset, 1 ok, 2 error
    status_message: str
    flags: int
    dropped_events: int           # the sender's counts, 0 when absent or unusable
    dropped_links: int
    identity: bytes


@dataclass(slots=True)
class Scope:
    """What the records of one scope entry share."""

    resource: dict[str, Any]
    name: str
    version: str
    # The rest of the resource and scope entries, only what was sent: resource_schema_url,
    # resource_dropped_attributes, scope_schema_url, scope_attributes (content not yet
    # split out), scope_dropped_attributes.
    extra: dict[str, Any]
    digest: Any  # blake2b primed with the resource and scope; copied per record
