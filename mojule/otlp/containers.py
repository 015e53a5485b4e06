"""Walking an export request's resources and scopes down to its records, and the digest
that identifies a record.

A malformed container costs the records it holds, each counted as a Skipped, so the
rejected count an exporter is told matches what it sent.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import fields as dataclass_fields
from typing import Any

import orjson

from mojule.otlp.fields import (
    DATA_KINDS,
    SORTED,
    count_or_zero,
    get_field,
    list_field,
    object_field,
    text_field,
    text_or_empty,
)
from mojule.otlp.records import LogRecord, Malformed, Scope, Skipped, Span
from mojule.otlp.values import canonical, decode_attributes


def scope_batches(entries: list, scopes: str, items: str) -> Iterator[Skipped | tuple]:
    """Yield (Scope, its record list) per scope entry, or a Skipped per record of a bad
    entry (one at least), so the rejected count matches what the client sent."""
    for entry in entries:
        try:
            if type(entry) is not dict:
                raise Malformed("resource entry is not an object")
            resource_entry = object_field(entry, "resource")
            resource, dropped = decode_attributes(resource_entry.get("attributes"))
            scope_entries = list_field(entry, scopes)
        except Malformed as exc:
            yield from skips(str(exc), held_records(entry, (scopes, items)))
            continue
        prefix = orjson.dumps(canonical(resource), option=SORTED)
        resource_extra = {
            "resource_schema_url": text_or_empty(entry, "schemaUrl"),
            "resource_dropped_attributes":
                dropped + count_or_zero(resource_entry, "droppedAttributesCount")}
        for scope_entry in scope_entries:
            try:
                if type(scope_entry) is not dict:
                    raise Malformed("scope entry is not an object")
                scope = object_field(scope_entry, "scope")
                name, version = text_field(scope, "name"), text_field(scope, "version")
                records = list_field(scope_entry, items)
            except Malformed as exc:
                yield from skips(str(exc), held_records(scope_entry, (items,)))
                continue
            extra = _scope_extra(resource_extra, scope_entry, scope)
            digest = hashlib.blake2b(prefix, digest_size=16)
            digest.update(orjson.dumps([name, version]))
            if extra:
                # Only when sent, so that the records of other scopes keep their identity.
                digest.update(orjson.dumps(canonical(extra), option=SORTED))
            yield Scope(resource, name, version, extra, digest), records


def _scope_extra(resource_extra: dict, scope_entry: dict, scope: dict) -> dict[str, Any]:
    """Return the resource's and scope's other fields that were sent (not empty or 0).

    Bad scope attributes are dropped and counted, as a record's are: they cost no record.
    """
    try:
        attributes, dropped = decode_attributes(scope.get("attributes"))
    except Malformed:
        attributes, dropped = {}, 1
    found = {**resource_extra,
             "scope_schema_url": text_or_empty(scope_entry, "schemaUrl"),
             "scope_attributes": attributes,
             "scope_dropped_attributes": dropped + count_or_zero(scope, "droppedAttributesCount")}
    return {name: value for name, value in found.items() if value}


def skips(reason: str, count: int) -> Iterator[Skipped]:
    return (Skipped(reason) for _ in range(max(1, count)))


def held_records(value: Any, path: tuple[str, ...]) -> int:
    """Count, as well as a malformed container allows, the records it holds along path.

    Metrics count their data points: ``metrics`` descends into each metric's data.
    """
    if type(value) is list:
        return sum(held_records(item, path) for item in value) if path else len(value)
    if type(value) is not dict or not path:
        return 0
    if path[0] == "metrics":
        metrics = get_field(value, "metrics")
        return sum(held_records(get_field(metric, kind), ("dataPoints",))
                   for metric in (metrics if type(metrics) is list else ())
                   if type(metric) is dict for kind in DATA_KINDS)
    return held_records(get_field(value, path[0]), path[1:])


def top_list(payload: Any, name: str) -> list:
    """Return the request's resource list; raise Malformed for a malformed request."""
    if type(payload) is not dict:
        raise Malformed("request body is not a JSON object")
    return list_field(payload, name)


# Fields decoded since identities were first stored: each is digested only when sent, so
# that a record which does not send it keeps the identity it was stored with.
LATER_FIELDS = frozenset({"dropped_events", "dropped_links"})


def content_fields(record_class: type) -> tuple[str, ...]:
    shared = {"resource", "scope_name", "scope_version", "scope_extra", "identity"}
    return tuple(field.name for field in dataclass_fields(record_class)
                 if field.name not in shared and field.name not in LATER_FIELDS)


LOG_CONTENT = content_fields(LogRecord)
SPAN_CONTENT = content_fields(Span)
SPAN_LATER = tuple(sorted(LATER_FIELDS))


def record_identity(scope: Scope, record: Any, content: tuple[str, ...],
                    later: tuple[str, ...] = ()) -> bytes:
    # Hashing the decoded fields, rather than the raw JSON, makes a retry hash the
    # same and cannot fail on nesting or characters that the decoder refused.
    digest = scope.digest.copy()
    digest.update(orjson.dumps([getattr(record, name) for name in content], option=SORTED))
    sent = {name: value for name in later if (value := getattr(record, name))}
    if sent:
        digest.update(orjson.dumps(sent, option=SORTED))
    return digest.digest()


def decoded_records(entries: list, scopes: str, items: str,
             decode: Callable[[Any, Scope], Any]) -> Iterator[Any]:
    """Yield decode(record, scope) for every record, or a Skipped where it fails."""
    for found in scope_batches(entries, scopes, items):
        if type(found) is Skipped:
            yield found
            continue
        scope, records = found
        for record in records:
            try:
                yield decode(record, scope)
            except Malformed as exc:
                yield Skipped(str(exc))


def decoded_parts(items: list, decode: Callable[[Any], dict]) -> list[dict]:
    """Return the decoded parts of a record (a span's events or links, a point's exemplars),
    without those that cannot be stored: a bad one costs itself, not its record, as a bad
    attribute does."""
    parts = []
    for item in items:
        try:
            parts.append(decode(item))
        except Malformed:
            continue
    return parts
