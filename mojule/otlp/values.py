"""OTLP AnyValue and attribute lists as Python values: arrays as lists, kvlists as dicts,
bytes as the base64 text sent. A bad attribute is dropped and counted, not fatal."""
from __future__ import annotations

from base64 import b64decode
from collections.abc import Callable
from typing import Any

from mojule.otlp.fields import (
    INT64,
    MAX_DEPTH,
    finite,
    integer,
    list_field,
    snake_case,
    storable,
    value_text,
)
from mojule.otlp.records import Malformed


def _string_value(value: Any, depth: int) -> str:
    if type(value) is str:
        return value_text(value)
    raise Malformed("invalid stringValue")


def _bool_value(value: Any, depth: int) -> bool:
    if value is True or value is False:
        return value
    raise Malformed("invalid boolValue")


def _int_value(value: Any, depth: int) -> int:
    return integer(value, "intValue", INT64)


def _double_value(value: Any, depth: int) -> float:
    return finite(value, "doubleValue")


def _array_value(value: Any, depth: int) -> list:
    if type(value) is not dict:
        raise Malformed("invalid arrayValue")
    return [decode_any(item, depth + 1) for item in list_field(value, "values")]


def _kvlist_value(value: Any, depth: int) -> dict:
    if type(value) is not dict:
        raise Malformed("invalid kvlistValue")
    decoded = {}
    for item in list_field(value, "values"):
        key = item.get("key") if type(item) is dict else None
        # An empty key is kept: a map is a value as sent (the Collector's json_parser makes
        # one of {"": ...}); only an attribute's own key must be non-empty.
        if type(key) is not str or not storable(key):
            raise Malformed("invalid kvlistValue key")
        decoded[key] = decode_any(item.get("value"), depth + 1)
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
_ANY_VALUE_DECODERS.update({snake_case(key): decode for key, decode in _ANY_VALUE_DECODERS.items()})


def decode_any(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Malformed(f"value nested more than {MAX_DEPTH} levels deep")
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
    return decode_any(value, 1)


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
            if type(key) is str and key and storable(key):
                value = item.get("value")
                # Fast path for the shape nearly every attribute has: {"stringValue": "..."}.
                if type(value) is dict and len(value) == 1:
                    text = value.get("stringValue")
                    if type(text) is str and storable(text):
                        attributes[key] = text
                        continue
                try:
                    attributes[key] = decode_any(value, 1)
                    continue
                except Malformed:
                    pass
        dropped += 1
    return attributes, dropped


def canonical(value: Any) -> Any:
    """Return value with integral floats as ints, so that 5 and 5.0 hash alike."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if kind is list:
        return [canonical(item) for item in value]
    if kind is dict:
        for item in value.values():
            if type(item) in (float, list, dict):
                return {key: canonical(item) for key, item in value.items()}
    return value
