"""Reading the fields of OTLP/JSON messages: each under its lowerCamelCase and snake_case
name, integers as numbers or decimal strings, enums as integers or names, ids as hex.

Every reader raises Malformed for a value the record cannot be stored with, and returns
the field's default when it is absent.
"""
from __future__ import annotations

import decimal
import functools
import math
import re
from typing import Any

import orjson

from mojule.otlp.records import Malformed


@functools.cache
def snake_case(name: str) -> str:
    """Return the snake_case spelling of a lowerCamelCase field name."""
    return re.sub("[A-Z]", lambda match: "_" + match[0].lower(), name)


INT32 = (-(2**31), 2**31)
UINT32 = (0, 2**32)
INT64 = (-(2**63), 2**63)
UINT64 = (0, 2**64)
TIMESTAMP = (0, 2**63)  # PostgreSQL BIGINT holds nanoseconds until 2262.
MAX_DEPTH = 32
# A JSON number (RFC 8259), as an exponent-notation integer must be written.
# The exponent's digits are bounded: Decimal refuses exponents past about 10**18.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]{1,6})?", re.ASCII)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
SORTED = orjson.OPT_SORT_KEYS
DATA_KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")


def _enum_names(prefix: str, members: str) -> dict[str, int]:
    return {prefix + member: number for number, member in enumerate(members.split())}


TEMPORALITIES = _enum_names("AGGREGATION_TEMPORALITY_", "UNSPECIFIED DELTA CUMULATIVE")
SPAN_KINDS = _enum_names("SPAN_KIND_", "UNSPECIFIED INTERNAL SERVER CLIENT PRODUCER CONSUMER")
STATUS_CODES = _enum_names("STATUS_CODE_", "UNSET OK ERROR")
# TRACE is 1, TRACE2 to TRACE4 follow, then DEBUG is 5, and so on up to FATAL4 at 24.
SEVERITIES = {"SEVERITY_NUMBER_UNSPECIFIED": 0} | {
    f"SEVERITY_NUMBER_{level}{step if step > 1 else ''}": 4 * rank + step
    for rank, level in enumerate(("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"))
    for step in (1, 2, 3, 4)
}


def get_field(obj: dict, name: str) -> Any:
    """Return obj's field named in camelCase or snake_case; None when absent or null."""
    value = obj.get(name)
    if value is None:
        # ProtoJSON parsers must accept the proto field name too, and so does the collector.
        snake = snake_case(name)
        if snake != name:
            value = obj.get(snake)
    return value


def storable(text: str) -> bool:
    """Return whether text can go into PostgreSQL text and jsonb."""
    # PostgreSQL rejects NUL, and UTF-8 cannot encode a lone surrogate.
    if text.isascii():
        return "\x00" not in text
    return _UNSTORABLE.search(text) is None


class Unstorable(str):
    """Text that PostgreSQL's text and jsonb refuse (a NUL, or a lone surrogate, which is
    already replaced by U+FFFD as UTF-8 cannot encode it).

    An attribute value is decoded as such rather than refused, because the decoder does not
    know which keys are content: content is stored encrypted, as bytes, and so keeps a
    prompt or a file's text with its NULs; ContentPolicy.split drops the plaintext ones.
    """

    __slots__ = ()


def value_text(text: str) -> str:
    """Return an attribute's string value: as sent, or as Unstorable when it must be."""
    if storable(text):
        return text
    return Unstorable(_SURROGATE.sub("\ufffd", text))


def integer(value: Any, name: str, bounds: tuple[int, int]) -> int:
    """Return value as an int within bounds; raise Malformed if it is not one.

    Decimal strings are parsed with int(), never through float, so nanosecond
    timestamps keep every digit.
    """
    kind = type(value)
    if kind is int:
        number = value
    elif kind is str:
        digits = value.removeprefix("-")
        if digits.isdigit() and digits.isascii() and len(digits) <= 20:
            number = int(value)
        else:
            number = _exponent_integer(value, name)
    elif kind is float and value.is_integer():
        number = int(value)
    else:
        raise Malformed(f"invalid {name}")
    if bounds[0] <= number < bounds[1]:
        return number
    raise Malformed(f"invalid {name}")


def _exponent_integer(text: str, name: str) -> int:
    # ProtoJSON takes exponent notation for 64-bit integers, quoted too ("1e3", "1.5e1"):
    # read exactly, as a decimal, and only when the value is whole and of a sane size.
    if not _JSON_NUMBER.fullmatch(text):
        raise Malformed(f"invalid {name}")
    try:
        number = decimal.Decimal(text)
        if number.is_zero():
            return 0
        if number.adjusted() > 20 or number != number.to_integral_value():
            raise Malformed(f"invalid {name}")
        return int(number)
    except decimal.DecimalException:
        raise Malformed(f"invalid {name}") from None


def finite(value: Any, name: str) -> float:
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


def double_as_sent(value: Any, name: str) -> float | str:
    """Return a double that is only kept, never summed: a finite float, or "NaN",
    "Infinity" or "-Infinity" for ProtoJSON's non-finite strings (any spelling float()
    reads, "+Inf" and "nan" too), as jsonb cannot hold them as numbers. Raises Malformed
    for anything else, a bare NaN or infinity from a non-standard JSON writer included.
    """
    if type(value) is str:
        try:
            number = float(value)
        except ValueError:
            raise Malformed(f"{name} is not a number") from None
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
    return finite(value, name)


def int_field(obj: dict, name: str, bounds: tuple[int, int]) -> int:
    """Return an integer field, 0 when absent; raise Malformed when invalid."""
    value = get_field(obj, name)
    return 0 if value is None else integer(value, name, bounds)


def float_field(obj: dict, name: str) -> float | None:
    """Return a double field, None when absent; raise Malformed when not finite."""
    value = get_field(obj, name)
    return None if value is None else finite(value, name)


def double_as_sent_field(obj: dict, name: str) -> float | str | None:
    """Return a double field as double_as_sent does, None when absent."""
    value = get_field(obj, name)
    return None if value is None else double_as_sent(value, name)


def text_field(obj: dict, name: str) -> str:
    """Return a string field, "" when absent; raise Malformed when not storable."""
    value = get_field(obj, name)
    if value is None:
        return ""
    if type(value) is str and storable(value):
        return value
    raise Malformed(f"invalid {name}")


def message_field(obj: dict, name: str) -> str:
    """Return a free-text field stored only as content, "" when absent; raise Malformed
    when not a string. Text PostgreSQL refuses comes back Unstorable, as in attributes:
    encrypted, it is stored as sent.
    """
    value = get_field(obj, name)
    if value is None:
        return ""
    if type(value) is str:
        return value_text(value)
    raise Malformed(f"invalid {name}")


def object_field(obj: dict, name: str) -> dict:
    """Return a message field, {} when absent; raise Malformed when not an object."""
    value = get_field(obj, name)
    if value is None:
        return {}
    if type(value) is dict:
        return value
    raise Malformed(f"{name} is not an object")


def list_field(obj: dict, name: str) -> list:
    """Return a repeated field, [] when absent; raise Malformed when not a list."""
    value = get_field(obj, name)
    if value is None:
        return []
    if type(value) is list:
        return value
    raise Malformed(f"{name} is not a list")


def flag_field(obj: dict, name: str) -> bool:
    """Return a bool field, False when absent; raise Malformed for a non-boolean."""
    value = get_field(obj, name)
    if value is None or value is True or value is False:
        return value is True
    raise Malformed(f"invalid {name}")


def enum_field(obj: dict, name: str, names: dict[str, int]) -> int:
    """Return an enum field from its integer or its name; 0 when absent or garbage."""
    value = get_field(obj, name)
    if value is None:
        return 0
    if type(value) is str and value in names:
        return names[value]
    try:
        # Unknown numbers are kept: a newer client may know members that we do not.
        return integer(value, name, INT32)
    except Malformed:
        return 0


def hex_id(obj: dict, name: str, length: int) -> str | None:
    """Return a trace or span id in lowercase hex, None when absent.

    Raises Malformed for a wrong length, a non-hex character or an all-zero id.
    """
    value = get_field(obj, name)
    if value is None or value == "":
        return None
    if type(value) is str and len(value) == length:
        lowered = value.lower()
        if not lowered.strip("0123456789abcdef") and lowered.strip("0"):
            return lowered
    raise Malformed(f"invalid {name}")


def id_or_none(obj: dict, name: str, length: int) -> str | None:
    # logs.proto asks receivers to treat a record with an invalid id as not tied
    # to a trace; a span with a bad parent id is likewise kept as a root.
    try:
        return hex_id(obj, name, length)
    except Malformed:
        return None


# The fields kept only as sent (a metric's description, schema URLs, dropped counts): one
# that is unusable is left out, and costs no record.

def text_or_empty(obj: dict, name: str) -> str:
    """Return a string field, "" when absent or unusable."""
    try:
        return text_field(obj, name)
    except Malformed:
        return ""


def count_or_zero(obj: dict, name: str) -> int:
    """Return a uint32 count field, 0 when absent or unusable."""
    try:
        return int_field(obj, name, UINT32)
    except Malformed:
        return 0
