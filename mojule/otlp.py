"""Decode OTLP/JSON export requests into flat, validated records.

The input is the object orjson parsed from a request body. Every field is read
under its lowerCamelCase and its snake_case name, 64-bit integers may be JSON
numbers or decimal strings, enums may be integers or names, and unknown fields
are ignored, as the OTLP specification asks of JSON receivers.

A record that cannot be stored comes out as a ``Skipped`` with a short reason
instead of failing the request, and a bad attribute only costs itself. Values
that PostgreSQL cannot hold (NUL characters, lone surrogates, NaN, infinities)
are rejected here, so that the COPY which follows cannot fail on them.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from base64 import b64decode
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

import orjson


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
    and 5 against 5.0 do not matter; ``identity`` adds the start and end times.
    """

    resource: dict[str, Any]
    scope_name: str
    scope_version: str
    metric_name: str
    unit: str
    kind: str                     # sum, gauge, histogram, exponential_histogram, summary
    temporality: int              # 0 unspecified, 1 delta, 2 cumulative; 0 for gauges
    is_monotonic: bool
    start_time_unix_nano: int     # 0 when absent
    time_unix_nano: int
    value: float | None           # sum and gauge only; an int when sent as asInt
    distribution: dict | None     # the other kinds' fields, under their OTLP names
    attributes: dict[str, Any]
    dropped_attributes: int
    flags: int
    series_hash: bytes
    identity: bytes


@dataclass(slots=True)
class Span:
    """One span; ``identity`` digests all of it, as for LogRecord."""

    resource: dict[str, Any]
    scope_name: str
    scope_version: str
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
    links: list[dict]             # trace_id, span_id, trace_state, attributes, dropped_attributes
    status_code: int              # 0 unset, 1 ok, 2 error
    status_message: str
    flags: int
    identity: bytes


@dataclass(slots=True)
class _Scope:
    """What the records of one scope entry share."""

    resource: dict[str, Any]
    name: str
    version: str
    digest: Any  # blake2b primed with the resource and scope; copied per record


@functools.cache
def _snake(name: str) -> str:
    """Return the snake_case spelling of a lowerCamelCase field name."""
    return re.sub("[A-Z]", lambda match: "_" + match[0].lower(), name)


_INT32 = (-(2**31), 2**31)
_UINT32 = (0, 2**32)
_INT64 = (-(2**63), 2**63)
_UINT64 = (0, 2**64)
_TIMESTAMP = (0, 2**63)  # PostgreSQL BIGINT holds nanoseconds until 2262.
_MAX_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SORTED = orjson.OPT_SORT_KEYS
_DATA_KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")


def _enum_names(prefix: str, members: str) -> dict[str, int]:
    return {prefix + member: number for number, member in enumerate(members.split())}


_TEMPORALITIES = _enum_names("AGGREGATION_TEMPORALITY_", "UNSPECIFIED DELTA CUMULATIVE")
_SPAN_KINDS = _enum_names("SPAN_KIND_", "UNSPECIFIED INTERNAL SERVER CLIENT PRODUCER CONSUMER")
_STATUS_CODES = _enum_names("STATUS_CODE_", "UNSET OK ERROR")
# TRACE is 1, TRACE2 to TRACE4 follow, then DEBUG is 5, and so on up to FATAL4 at 24.
_SEVERITIES = {"SEVERITY_NUMBER_UNSPECIFIED": 0} | {
    f"SEVERITY_NUMBER_{level}{step if step > 1 else ''}": 4 * rank + step
    for rank, level in enumerate(("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"))
    for step in (1, 2, 3, 4)
}


def _get(obj: dict, name: str) -> Any:
    """Return obj's field named in camelCase or snake_case; None when absent or null."""
    value = obj.get(name)
    if value is None:
        # ProtoJSON parsers must accept the proto field name too, and so does the collector.
        snake = _snake(name)
        if snake != name:
            value = obj.get(snake)
    return value


def _storable(text: str) -> bool:
    """Return whether text can go into PostgreSQL text and jsonb."""
    # PostgreSQL rejects NUL, and UTF-8 cannot encode a lone surrogate.
    if text.isascii():
        return "\x00" not in text
    return _UNSTORABLE.search(text) is None


def _integer(value: Any, name: str, bounds: tuple[int, int]) -> int:
    """Return value as an int within bounds; raise Malformed if it is not one.

    Decimal strings are parsed with int(), never through float, so nanosecond
    timestamps keep every digit.
    """
    kind = type(value)
    if kind is int:
        number = value
    elif kind is str:
        digits = value.removeprefix("-")
        if not (digits.isdigit() and digits.isascii() and len(digits) <= 20):
            raise Malformed(f"invalid {name}")
        number = int(value)
    elif kind is float and value.is_integer():
        number = int(value)
    else:
        raise Malformed(f"invalid {name}")
    if bounds[0] <= number < bounds[1]:
        return number
    raise Malformed(f"invalid {name}")


def _finite(value: Any, name: str) -> float:
    """Return value as a finite float; raise Malformed for anything else.

    The float type comes from the field, not from the JSON type: integral
    doubles arrive as ``5``, and the ProtoJSON forms "NaN" and "Infinity" are
    parsed only to be refused, because jsonb cannot hold them.
    """
    if type(value) in (float, int, str):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            number = math.nan
        if math.isfinite(number):
            return number
    raise Malformed(f"{name} is not a finite number")


def _int_field(obj: dict, name: str, bounds: tuple[int, int]) -> int:
    """Return an integer field, 0 when absent; raise Malformed when invalid."""
    value = _get(obj, name)
    return 0 if value is None else _integer(value, name, bounds)


def _float_field(obj: dict, name: str) -> float | None:
    """Return a double field, None when absent; raise Malformed when not finite."""
    value = _get(obj, name)
    return None if value is None else _finite(value, name)


def _text(obj: dict, name: str) -> str:
    """Return a string field, "" when absent; raise Malformed when not storable."""
    value = _get(obj, name)
    if value is None:
        return ""
    if type(value) is str and _storable(value):
        return value
    raise Malformed(f"invalid {name}")


def _object(obj: dict, name: str) -> dict:
    """Return a message field, {} when absent; raise Malformed when not an object."""
    value = _get(obj, name)
    if value is None:
        return {}
    if type(value) is dict:
        return value
    raise Malformed(f"{name} is not an object")


def _list(obj: dict, name: str) -> list:
    """Return a repeated field, [] when absent; raise Malformed when not a list."""
    value = _get(obj, name)
    if value is None:
        return []
    if type(value) is list:
        return value
    raise Malformed(f"{name} is not a list")


def _flag(obj: dict, name: str) -> bool:
    """Return a bool field, False when absent; raise Malformed for a non-boolean."""
    value = _get(obj, name)
    if value is None or value is True or value is False:
        return value is True
    raise Malformed(f"invalid {name}")


def _enum(obj: dict, name: str, names: dict[str, int]) -> int:
    """Return an enum field from its integer or its name; 0 when absent or garbage."""
    value = _get(obj, name)
    if value is None:
        return 0
    if type(value) is str and value in names:
        return names[value]
    try:
        # Unknown numbers are kept: a newer client may know members that we do not.
        return _integer(value, name, _INT32)
    except Malformed:
        return 0


def _hex_id(obj: dict, name: str, length: int) -> str | None:
    """Return a trace or span id in lowercase hex, None when absent.

    Raises Malformed for a wrong length, a non-hex character or an all-zero id.
    """
    value = _get(obj, name)
    if value is None or value == "":
        return None
    if type(value) is str and len(value) == length:
        lowered = value.lower()
        if not lowered.strip("0123456789abcdef") and lowered.strip("0"):
            return lowered
    raise Malformed(f"invalid {name}")


def _string_value(value: Any, depth: int) -> str:
    if type(value) is str and _storable(value):
        return value
    raise Malformed("invalid stringValue")


def _bool_value(value: Any, depth: int) -> bool:
    if value is True or value is False:
        return value
    raise Malformed("invalid boolValue")


def _int_value(value: Any, depth: int) -> int:
    return _integer(value, "intValue", _INT64)


def _double_value(value: Any, depth: int) -> float:
    return _finite(value, "doubleValue")


def _array_value(value: Any, depth: int) -> list:
    if type(value) is not dict:
        raise Malformed("invalid arrayValue")
    return [_decode_any(item, depth + 1) for item in _list(value, "values")]


def _kvlist_value(value: Any, depth: int) -> dict:
    if type(value) is not dict:
        raise Malformed("invalid kvlistValue")
    decoded = {}
    for item in _list(value, "values"):
        key = item.get("key") if type(item) is dict else None
        if type(key) is not str or not key or not _storable(key):
            raise Malformed("invalid kvlistValue key")
        decoded[key] = _decode_any(item.get("value"), depth + 1)
    return decoded


def _bytes_value(value: Any, depth: int) -> str:
    # OTel JS 0.208.0 serialises a Buffer as {"type": "Buffer", "data": [...]}
    # rather than base64 (opentelemetry-js#6190); only a string is kept.
    if type(value) is str:
        standard = value.replace("-", "+").replace("_", "/")
        try:
            b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except ValueError:
            pass
        else:
            return value
    raise Malformed("invalid bytesValue")


_ANY_VALUE_DECODERS: dict[str, Callable[[Any, int], Any]] = {
    "stringValue": _string_value,
    "boolValue": _bool_value,
    "intValue": _int_value,
    "doubleValue": _double_value,
    "arrayValue": _array_value,
    "kvlistValue": _kvlist_value,
    "bytesValue": _bytes_value,
}
_ANY_VALUE_DECODERS.update({_snake(key): decode for key, decode in _ANY_VALUE_DECODERS.items()})


def _decode_any(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise Malformed(f"value nested more than {_MAX_DEPTH} levels deep")
    if value is None:
        return None
    if type(value) is not dict:
        raise Malformed("value is not an object")
    for field, content in value.items():
        decode = _ANY_VALUE_DECODERS.get(field)
        if decode is not None and content is not None:
            return decode(content, depth)
    return None


def decode_any_value(value: Any) -> Any:
    """Return an OTLP AnyValue as a Python value; None for {} or null.

    Arrays become lists, kvlists dicts, bytesValue stays the base64 text as sent.
    Raises Malformed for a value that cannot be stored.
    """
    return _decode_any(value, 1)


def decode_attributes(items: Any) -> tuple[dict[str, Any], int]:
    """Return (attributes, number dropped) for an OTLP list of KeyValue.

    Entries that are not objects, have no usable key or hold a bad value are
    dropped and counted; for duplicate keys the last one wins.
    Raises Malformed when items is neither a list nor null.
    """
    if items is None:
        return {}, 0
    if type(items) is not list:
        raise Malformed("attributes is not a list")
    attributes = {}
    dropped = 0
    for item in items:
        if type(item) is dict:
            key = item.get("key")
            if type(key) is str and key and _storable(key):
                value = item.get("value")
                # Fast path for the shape nearly every attribute has: {"stringValue": "..."}.
                if type(value) is dict and len(value) == 1:
                    text = value.get("stringValue")
                    if type(text) is str and _storable(text):
                        attributes[key] = text
                        continue
                try:
                    attributes[key] = _decode_any(value, 1)
                    continue
                except Malformed:
                    pass
        dropped += 1
    return attributes, dropped


def _canonical(value: Any) -> Any:
    """Return value with integral floats as ints, so that 5 and 5.0 hash alike."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if kind is list:
        return [_canonical(item) for item in value]
    if kind is dict:
        for item in value.values():
            if type(item) in (float, list, dict):
                return {key: _canonical(item) for key, item in value.items()}
    return value


def _scopes(entries: list, scopes: str, items: str) -> Iterator[Skipped | tuple]:
    """Yield (_Scope, its record list) per scope entry, or a Skipped per record of a bad
    entry (one at least), so the rejected count matches what the client sent."""
    for entry in entries:
        try:
            if type(entry) is not dict:
                raise Malformed("resource entry is not an object")
            resource, _ = decode_attributes(_object(entry, "resource").get("attributes"))
            scope_entries = _list(entry, scopes)
        except Malformed as exc:
            yield from _skips(str(exc), _held(entry, (scopes, items)))
            continue
        prefix = orjson.dumps(_canonical(resource), option=_SORTED)
        for scope_entry in scope_entries:
            try:
                if type(scope_entry) is not dict:
                    raise Malformed("scope entry is not an object")
                scope = _object(scope_entry, "scope")
                name, version = _text(scope, "name"), _text(scope, "version")
                records = _list(scope_entry, items)
            except Malformed as exc:
                yield from _skips(str(exc), _held(scope_entry, (items,)))
                continue
            digest = hashlib.blake2b(prefix, digest_size=16)
            digest.update(orjson.dumps([name, version]))
            yield _Scope(resource, name, version, digest), records


def _skips(reason: str, count: int) -> Iterator[Skipped]:
    return (Skipped(reason) for _ in range(max(1, count)))


def _held(value: Any, path: tuple[str, ...]) -> int:
    """Count, as well as a malformed container allows, the records it holds along path.

    Metrics count their data points: ``metrics`` descends into each metric's data.
    """
    if type(value) is list:
        return sum(_held(item, path) for item in value) if path else len(value)
    if type(value) is not dict or not path:
        return 0
    if path[0] == "metrics":
        metrics = _get(value, "metrics")
        return sum(_held(_get(metric, kind), ("dataPoints",))
                   for metric in (metrics if type(metrics) is list else ())
                   if type(metric) is dict for kind in _DATA_KINDS)
    return _held(_get(value, path[0]), path[1:])


def _top_list(payload: Any, name: str) -> list:
    """Return the request's resource list; raise Malformed for a malformed request."""
    if type(payload) is not dict:
        raise Malformed("request body is not a JSON object")
    return _list(payload, name)


def _content_fields(record_class: type) -> tuple[str, ...]:
    shared = {"resource", "scope_name", "scope_version", "identity"}
    return tuple(field.name for field in fields(record_class) if field.name not in shared)


_LOG_CONTENT = _content_fields(LogRecord)
_SPAN_CONTENT = _content_fields(Span)


def _identity(scope: _Scope, record: Any, content: tuple[str, ...]) -> bytes:
    # Hashing the decoded fields, rather than the raw JSON, makes a retry hash the
    # same and cannot fail on nesting or characters that the decoder refused.
    digest = scope.digest.copy()
    digest.update(orjson.dumps([getattr(record, name) for name in content], option=_SORTED))
    return digest.digest()


def _records(entries: list, scopes: str, items: str,
             decode: Callable[[Any, _Scope], Any]) -> Iterator[Any]:
    """Yield decode(record, scope) for every record, or a Skipped where it fails."""
    for found in _scopes(entries, scopes, items):
        if type(found) is Skipped:
            yield found
            continue
        scope, records = found
        for record in records:
            try:
                yield decode(record, scope)
            except Malformed as exc:
                yield Skipped(str(exc))


def _id_or_none(obj: dict, name: str, length: int) -> str | None:
    # logs.proto asks receivers to treat a record with an invalid id as not tied
    # to a trace; a span with a bad parent id is likewise kept as a root.
    try:
        return _hex_id(obj, name, length)
    except Malformed:
        return None


def _log_record(record: Any, scope: _Scope) -> LogRecord:
    """Return one decoded log record; raise Malformed if it cannot be stored."""
    if type(record) is not dict:
        raise Malformed("log record is not an object")
    observed = _int_field(record, "observedTimeUnixNano", _TIMESTAMP)
    # logs.proto: use the observed time when the event time is unknown.
    time = _int_field(record, "timeUnixNano", _TIMESTAMP) or observed
    if not time:
        raise Malformed("log record has no timeUnixNano")
    attributes, dropped = decode_attributes(record.get("attributes"))
    try:
        body = _decode_any(record.get("body"), 1)
    except Malformed:
        # The body is one value among the attributes; losing it must not lose the event.
        body = None
        dropped += 1
    log = LogRecord(
        resource=scope.resource,
        scope_name=scope.name,
        scope_version=scope.version,
        time_unix_nano=time,
        observed_time_unix_nano=observed,
        severity_number=_enum(record, "severityNumber", _SEVERITIES),
        severity_text=_text(record, "severityText"),
        body=body,
        attributes=attributes,
        dropped_attributes=dropped + _int_field(record, "droppedAttributesCount", _UINT32),
        trace_id=_id_or_none(record, "traceId", 32),
        span_id=_id_or_none(record, "spanId", 16),
        flags=_int_field(record, "flags", _UINT32),
        event_name=_text(record, "eventName"),
        identity=b"",
    )
    log.identity = _identity(scope, log, _LOG_CONTENT)
    return log


@dataclass(slots=True)
class _Metric:
    """What the points of one metric share."""

    scope: _Scope
    name: str
    unit: str
    kind: str
    temporality: int
    is_monotonic: bool
    digest: Any  # blake2b primed with the whole series identity but the attributes


def _metric(metric: dict, kind: str, data: dict, scope: _Scope) -> _Metric:
    """Return what a metric's points share; raise Malformed if the metric is unusable."""
    name = _text(metric, "name")
    if not name:
        raise Malformed("metric has no name")
    unit = _text(metric, "unit")
    temporality = 0
    if kind not in ("gauge", "summary"):
        temporality = _enum(data, "aggregationTemporality", _TEMPORALITIES)
    is_monotonic = kind == "sum" and _flag(data, "isMonotonic")
    digest = scope.digest.copy()
    digest.update(orjson.dumps([name, unit, kind, temporality, is_monotonic]))
    return _Metric(scope, name, unit, kind, temporality, is_monotonic, digest)


def _number(point: dict) -> float | int:
    """Return a sum or gauge value, typed by its field; raise Malformed if unusable."""
    value = _float_field(point, "asDouble")
    if value is not None:
        return value
    value = _get(point, "asInt")
    if value is None:
        raise Malformed("data point has no value")
    return _integer(value, "asInt", _INT64)


def _bucket_counts(obj: dict) -> list[int]:
    return [_integer(count, "bucketCounts", _UINT64) for count in _list(obj, "bucketCounts")]


def _count_and_sum(point: dict) -> dict:
    return {"count": _int_field(point, "count", _UINT64), "sum": _float_field(point, "sum")}


def _histogram(point: dict) -> dict:
    counts = _bucket_counts(point)
    bounds = [_finite(bound, "explicitBounds") for bound in _list(point, "explicitBounds")]
    if (counts or bounds) and len(counts) != len(bounds) + 1:
        raise Malformed("bucketCounts does not match explicitBounds")
    return {**_count_and_sum(point), "min": _float_field(point, "min"),
            "max": _float_field(point, "max"), "bucketCounts": counts,
            "explicitBounds": bounds}


def _exponential_histogram(point: dict) -> dict:
    buckets = {}
    for side in ("positive", "negative"):
        found = _object(point, side)
        buckets[side] = {"offset": _int_field(found, "offset", _INT32),
                         "bucketCounts": _bucket_counts(found)}
    return {**_count_and_sum(point), "min": _float_field(point, "min"),
            "max": _float_field(point, "max"), "scale": _int_field(point, "scale", _INT32),
            "zeroCount": _int_field(point, "zeroCount", _UINT64),
            "zeroThreshold": _float_field(point, "zeroThreshold") or 0.0, **buckets}


def _summary(point: dict) -> dict:
    quantiles = []
    for item in _list(point, "quantileValues"):
        if type(item) is not dict:
            raise Malformed("quantileValues entry is not an object")
        quantiles.append({"quantile": _float_field(item, "quantile") or 0.0,
                          "value": _float_field(item, "value") or 0.0})
    return {**_count_and_sum(point), "quantileValues": quantiles}


_DISTRIBUTIONS: dict[str, Callable[[dict], dict]] = {
    "histogram": _histogram,
    "exponential_histogram": _exponential_histogram,
    "summary": _summary,
}


def _point(point: Any, metric: _Metric) -> MetricPoint:
    """Return one decoded data point; raise Malformed if it cannot be stored."""
    if type(point) is not dict:
        raise Malformed("data point is not an object")
    flags = _int_field(point, "flags", _UINT32)
    if flags & 1:
        # DataPointFlags.NO_RECORDED_VALUE marks a stale series, not a measurement.
        raise Malformed("no recorded value")
    time = _int_field(point, "timeUnixNano", _TIMESTAMP)
    if not time:
        raise Malformed("data point has no timeUnixNano")
    start = _int_field(point, "startTimeUnixNano", _TIMESTAMP)
    value = distribution = None
    if metric.kind in _DISTRIBUTIONS:
        distribution = _DISTRIBUTIONS[metric.kind](point)
    else:
        value = _number(point)
    attributes, dropped = decode_attributes(point.get("attributes"))
    series = metric.digest.copy()
    series.update(orjson.dumps(_canonical(attributes), option=_SORTED))
    series_hash = series.digest()
    # The value is part of the identity: a retried export repeats it exactly, while two
    # processes sharing a session id may report the same series and window with
    # different values, and neither may be lost.
    window = (start.to_bytes(8, "big") + time.to_bytes(8, "big")
              + orjson.dumps(_canonical(value if distribution is None else distribution)))
    scope = metric.scope
    return MetricPoint(
        resource=scope.resource,
        scope_name=scope.name,
        scope_version=scope.version,
        metric_name=metric.name,
        unit=metric.unit,
        kind=metric.kind,
        temporality=metric.temporality,
        is_monotonic=metric.is_monotonic,
        start_time_unix_nano=start,
        time_unix_nano=time,
        value=value,
        distribution=distribution,
        attributes=attributes,
        dropped_attributes=dropped,
        flags=flags,
        series_hash=series_hash,
        identity=hashlib.blake2b(series_hash + window, digest_size=16).digest(),
    )


def _points(metric: Any, scope: _Scope) -> Iterator[MetricPoint | Skipped]:
    """Yield a MetricPoint or a Skipped for each data point of one metric."""
    try:
        if type(metric) is not dict:
            raise Malformed("metric is not an object")
        field = next((name for name in _DATA_KINDS if _get(metric, name) is not None), None)
        if field is None:
            return  # A metric without data has no points to store or to count.
        data = _object(metric, field)
        points = _list(data, "dataPoints")
    except Malformed as exc:
        yield Skipped(str(exc))
        return
    try:
        header = _metric(metric, _snake(field), data, scope)
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
    for found in _scopes(entries, "scopeMetrics", "metrics"):
        if type(found) is Skipped:
            yield found
            continue
        scope, metrics = found
        for metric in metrics:
            yield from _points(metric, scope)


def _event(event: Any) -> dict:
    if type(event) is not dict:
        raise Malformed("span event is not an object")
    attributes, dropped = decode_attributes(event.get("attributes"))
    return {
        "name": _text(event, "name"),
        "time_unix_nano": _int_field(event, "timeUnixNano", _TIMESTAMP),
        "attributes": attributes,
        "dropped_attributes": dropped + _int_field(event, "droppedAttributesCount", _UINT32),
    }


def _link(link: Any) -> dict:
    if type(link) is not dict:
        raise Malformed("span link is not an object")
    trace_id = _hex_id(link, "traceId", 32)
    span_id = _hex_id(link, "spanId", 16)
    if trace_id is None or span_id is None:
        raise Malformed("span link has no traceId or spanId")
    attributes, dropped = decode_attributes(link.get("attributes"))
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "trace_state": _text(link, "traceState"),
        "attributes": attributes,
        "dropped_attributes": dropped + _int_field(link, "droppedAttributesCount", _UINT32),
    }


def _span(span: Any, scope: _Scope) -> Span:
    """Return one decoded span; raise Malformed if it cannot be stored."""
    if type(span) is not dict:
        raise Malformed("span is not an object")
    trace_id = _hex_id(span, "traceId", 32)
    span_id = _hex_id(span, "spanId", 16)
    if trace_id is None or span_id is None:
        raise Malformed("span has no traceId or spanId")
    start = _int_field(span, "startTimeUnixNano", _TIMESTAMP)
    if not start:
        raise Malformed("span has no startTimeUnixNano")
    attributes, dropped = decode_attributes(span.get("attributes"))
    status = _object(span, "status")
    decoded = Span(
        resource=scope.resource,
        scope_name=scope.name,
        scope_version=scope.version,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_id_or_none(span, "parentSpanId", 16),
        trace_state=_text(span, "traceState"),
        name=_text(span, "name"),
        kind=_enum(span, "kind", _SPAN_KINDS),
        start_time_unix_nano=start,
        end_time_unix_nano=_int_field(span, "endTimeUnixNano", _TIMESTAMP),
        attributes=attributes,
        dropped_attributes=dropped + _int_field(span, "droppedAttributesCount", _UINT32),
        events=[_event(event) for event in _list(span, "events")],
        links=[_link(link) for link in _list(span, "links")],
        status_code=_enum(status, "code", _STATUS_CODES),
        status_message=_text(status, "message"),
        flags=_int_field(span, "flags", _UINT32),
        identity=b"",
    )
    decoded.identity = _identity(scope, decoded, _SPAN_CONTENT)
    return decoded


def iter_logs(payload: Any) -> Iterator[LogRecord | Skipped]:
    """Return an iterator over the records of an ExportLogsServiceRequest.

    It yields a LogRecord per record, or a Skipped per record, or per container
    entry, that cannot be stored. Raises Malformed at once when the payload is
    not an object or resourceLogs is not a list.
    """
    return _records(_top_list(payload, "resourceLogs"), "scopeLogs", "logRecords", _log_record)


def iter_metric_points(payload: Any) -> Iterator[MetricPoint | Skipped]:
    """Return an iterator over the data points of an ExportMetricsServiceRequest.

    It yields a MetricPoint per point, or a Skipped per point, or per container
    entry, that cannot be stored. Raises Malformed at once when the payload is
    not an object or resourceMetrics is not a list.
    """
    return _metric_points(_top_list(payload, "resourceMetrics"))


def iter_spans(payload: Any) -> Iterator[Span | Skipped]:
    """Return an iterator over the spans of an ExportTraceServiceRequest.

    It yields a Span per span, or a Skipped per span, or per container entry,
    that cannot be stored. Raises Malformed at once when the payload is not an
    object or resourceSpans is not a list.
    """
    return _records(_top_list(payload, "resourceSpans"), "scopeSpans", "spans", _span)
