"""Decoding metric data points: each metric's header once, then its points, exemplars included."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from mojule.otlp.containers import decoded_parts, scope_batches, top_list
from mojule.otlp.fields import (
    DATA_KINDS,
    INT32,
    INT64,
    SORTED,
    TEMPORALITIES,
    TIMESTAMP,
    UINT32,
    UINT64,
    double_as_sent_field,
    enum_field,
    finite,
    flag_field,
    float_field,
    get_field,
    hex_id,
    int_field,
    integer,
    list_field,
    object_field,
    snake_case,
    text_field,
    text_or_empty,
)
from mojule.otlp.records import Malformed, MetricPoint, Scope, Skipped
from mojule.otlp.values import canonical, decode_attributes

# DataPointFlags (metrics.proto): the point is a staleness marker and records no value.
NO_RECORDED_VALUE = 1


@dataclass(slots=True)
class _Metric:
    """What the points of one metric share."""

    scope: Scope
    name: str
    description: str
    metadata: dict[str, Any]
    metadata_dropped_attributes: int
    unit: str
    kind: str
    temporality: int
    is_monotonic: bool
    digest: Any  # blake2b primed with the whole series identity but the attributes


def _metric(metric: dict, kind: str, data: dict, scope: Scope) -> _Metric:
    """Return what a metric's points share; raise Malformed if the metric is unusable."""
    name = text_field(metric, "name")
    if not name:
        raise Malformed("metric has no name")
    unit = text_field(metric, "unit")
    temporality = 0
    if kind not in ("gauge", "summary"):
        temporality = enum_field(data, "aggregationTemporality", TEMPORALITIES)
    is_monotonic = kind == "sum" and flag_field(data, "isMonotonic")
    digest = scope.digest.copy()
    digest.update(orjson.dumps([name, unit, kind, temporality, is_monotonic]))
    try:
        metadata, dropped = decode_attributes(get_field(metric, "metadata"))
    except Malformed:
        # Kept as sent, as the description is: metadata that is not a list costs no point.
        metadata, dropped = {}, 1
    return _Metric(scope, name, text_or_empty(metric, "description"), metadata, dropped, unit,
                   kind, temporality, is_monotonic, digest)


def _number(point: dict) -> float | int | str:
    """Return a sum, gauge or exemplar value, typed by its field: "NaN", "Infinity" or
    "-Infinity" for a non-finite double, as double_as_sent names them (a Prometheus gauge
    can be NaN, and the Collector writes it "NaN"). Raises Malformed if unusable."""
    value = double_as_sent_field(point, "asDouble")
    if value is not None:
        return value
    value = get_field(point, "asInt")
    if value is None:
        raise Malformed("data point has no value")
    return integer(value, "asInt", INT64)


def _bucket_counts(obj: dict) -> list[int]:
    return [integer(count, "bucketCounts", UINT64) for count in list_field(obj, "bucketCounts")]


# A distribution's sum, min, max and quantile values are kept as sent, non-finite ones too
# (as "NaN", "Infinity" or "-Infinity"): a Prometheus summary with no observations in its
# window has NaN quantiles, and its count and sum are still worth having. Nothing sums
# them; the point's value, which the accounting sums, must stay finite.
def _count_and_sum(point: dict) -> dict:
    return {"count": int_field(point, "count", UINT64), "sum": double_as_sent_field(point, "sum")}


def _min_and_max(point: dict) -> dict:
    return {"min": double_as_sent_field(point, "min"), "max": double_as_sent_field(point, "max")}


def _histogram(point: dict) -> dict:
    counts = _bucket_counts(point)
    bounds = [finite(bound, "explicitBounds") for bound in list_field(point, "explicitBounds")]
    if (counts or bounds) and len(counts) != len(bounds) + 1:
        raise Malformed("bucketCounts does not match explicitBounds")
    return {**_count_and_sum(point), **_min_and_max(point), "bucketCounts": counts,
            "explicitBounds": bounds}


def _exponential_histogram(point: dict) -> dict:
    buckets = {}
    for side in ("positive", "negative"):
        found = object_field(point, side)
        buckets[side] = {"offset": int_field(found, "offset", INT32),
                         "bucketCounts": _bucket_counts(found)}
    return {**_count_and_sum(point), **_min_and_max(point),
            "scale": int_field(point, "scale", INT32),
            "zeroCount": int_field(point, "zeroCount", UINT64),
            "zeroThreshold": float_field(point, "zeroThreshold") or 0.0, **buckets}


def _summary(point: dict) -> dict:
    quantiles = []
    for item in list_field(point, "quantileValues"):
        if type(item) is not dict:
            raise Malformed("quantileValues entry is not an object")
        quantiles.append({"quantile": float_field(item, "quantile") or 0.0,
                          "value": double_as_sent_field(item, "value") or 0.0})
    return {**_count_and_sum(point), "quantileValues": quantiles}


_DISTRIBUTIONS: dict[str, Callable[[dict], dict]] = {
    "histogram": _histogram,
    "exponential_histogram": _exponential_histogram,
    "summary": _summary,
}


def _exemplar(exemplar: Any) -> dict:
    if type(exemplar) is not dict:
        raise Malformed("exemplar is not an object")
    attributes, dropped = decode_attributes(get_field(exemplar, "filteredAttributes"))
    return {
        "time_unix_nano": int_field(exemplar, "timeUnixNano", TIMESTAMP),
        "value": _number(exemplar),
        "trace_id": hex_id(exemplar, "traceId", 32),
        "span_id": hex_id(exemplar, "spanId", 16),
        "filtered_attributes": attributes,
        "dropped_attributes": dropped,
    }


def _exemplars(point: dict, kind: str) -> tuple[list[dict], int]:
    """Return a point's decoded exemplars and how many were dropped: a bad one costs
    itself, as a bad attribute does, never its point. Summaries have none."""
    if kind == "summary":
        return [], 0
    try:
        items = list_field(point, "exemplars")
    except Malformed:
        return [], 1
    exemplars = decoded_parts(items, _exemplar)
    return exemplars, len(items) - len(exemplars)


def _point(point: Any, metric: _Metric) -> MetricPoint:
    """Return one decoded data point; raise Malformed if it cannot be stored."""
    if type(point) is not dict:
        raise Malformed("data point is not an object")
    flags = int_field(point, "flags", UINT32)
    time = int_field(point, "timeUnixNano", TIMESTAMP)
    if not time:
        raise Malformed("data point has no timeUnixNano")
    start = int_field(point, "startTimeUnixNano", TIMESTAMP)
    value = distribution = None
    if flags & NO_RECORDED_VALUE:
        # A staleness marker: the series ended here, and whatever value fields the point
        # has mean nothing. It is a valid point, stored as sent but without a value, so
        # that no figure counts it (the accounting reads points with a value).
        pass
    elif metric.kind in _DISTRIBUTIONS:
        distribution = _DISTRIBUTIONS[metric.kind](point)
    else:
        value = _number(point)
    attributes, dropped = decode_attributes(point.get("attributes"))
    exemplars, dropped_exemplars = _exemplars(point, metric.kind)
    series = metric.digest.copy()
    series.update(orjson.dumps(canonical(attributes), option=SORTED))
    series_hash = series.digest()
    # The value is part of the identity: a retried export repeats it exactly, while two
    # processes sharing a session id may report the same series and window with
    # different values, and neither may be lost.
    window = (start.to_bytes(8, "big") + time.to_bytes(8, "big")
              + orjson.dumps(canonical(value if distribution is None else distribution)))
    # A non-finite value is kept as sent, but as no value: nothing can sum it.
    value_not_finite = value if type(value) is str else None
    scope = metric.scope
    return MetricPoint(
        resource=scope.resource,
        scope_name=scope.name,
        scope_version=scope.version,
        scope_extra=scope.extra,
        metric_name=metric.name,
        description=metric.description,
        metadata=metric.metadata,
        metadata_dropped_attributes=metric.metadata_dropped_attributes,
        unit=metric.unit,
        kind=metric.kind,
        temporality=metric.temporality,
        is_monotonic=metric.is_monotonic,
        start_time_unix_nano=start,
        time_unix_nano=time,
        value=None if value_not_finite else value,
        value_not_finite=value_not_finite,
        distribution=distribution,
        attributes=attributes,
        dropped_attributes=dropped,
        exemplars=exemplars,
        dropped_exemplars=dropped_exemplars,
        flags=flags,
        series_hash=series_hash,
        identity=hashlib.blake2b(series_hash + window, digest_size=16).digest(),
    )


def _points(metric: Any, scope: Scope) -> Iterator[MetricPoint | Skipped]:
    """Yield a MetricPoint or a Skipped for each data point of one metric."""
    try:
        if type(metric) is not dict:
            raise Malformed("metric is not an object")
        field = next((name for name in DATA_KINDS if get_field(metric, name) is not None), None)
        if field is None:
            return  # A metric without data has no points to store or to count.
        data = object_field(metric, field)
        points = list_field(data, "dataPoints")
    except Malformed as exc:
        yield Skipped(str(exc))
        return
    try:
        header = _metric(metric, snake_case(field), data, scope)
    except Malformed as exc:
        # One Skipped per point keeps the rejected count equal to what was sent.
        yield from (Skipped(str(exc)) for _ in points)
        return
    for point in points:
        try:
            yield _point(point, header)
        except Malformed as exc:
            yield Skipped(str(exc))


def _metric_points(entries: list) -> Iterator[MetricPoint | Skipped]:
    for found in scope_batches(entries, "scopeMetrics", "metrics"):
        if type(found) is Skipped:
            yield found
            continue
        scope, metrics = found
        for metric in metrics:
            yield from _points(metric, scope)


def iter_metric_points(payload: Any) -> Iterator[MetricPoint | Skipped]:
    """Return an iterator over the data points of an ExportMetricsServiceRequest.

    It yields a MetricPoint per point, or a Skipped per point, or per container
    entry, that cannot be stored. Raises Malformed at once when the payload is
    not an object or resourceMetrics is not a list.
    """
    return _metric_points(top_list(payload, "resourceMetrics"))
