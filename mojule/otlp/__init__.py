"""Decode OTLP/JSON export requests into flat, validated records.

The input is the object orjson parsed from a request body. Every field is read
under its lowerCamelCase and its snake_case name, 64-bit integers may be JSON
numbers or decimal strings, enums may be integers or names, and unknown fields
are ignored, as the OTLP specification asks of JSON receivers.

A record that cannot be stored comes out as a ``Skipped`` with a short reason
instead of failing the request, and a bad attribute only costs itself. Values
that PostgreSQL cannot hold (NUL characters, lone surrogates, NaN, infinities)
are rejected here, so that the COPY which follows cannot fail on them, with two
exceptions: an attribute value or log body with a NUL comes out as ``Unstorable``
text (a lone surrogate as U+FFFD), because as content it is stored encrypted and
kept; ContentPolicy.split drops it from what is stored in clear. And a histogram's
or summary's sum, min, max or quantile value sent as "NaN" or an infinity comes out
as the string "NaN", "Infinity" or "-Infinity": nothing sums them, and the point is
worth keeping.

records.py says what comes out, fields.py reads message fields, values.py AnyValues and
attribute lists, containers.py walks resources and scopes, signals.py decodes log
records and spans, metric_points.py metric data points.
"""
from mojule.otlp.fields import Unstorable
from mojule.otlp.metric_points import iter_metric_points
from mojule.otlp.records import LogRecord, Malformed, MetricPoint, Skipped, Span
from mojule.otlp.signals import iter_logs, iter_spans
from mojule.otlp.values import decode_any_value, decode_attributes

__all__ = ["LogRecord", "Malformed", "MetricPoint", "Skipped", "Span", "Unstorable",
           "decode_any_value",
           "decode_attributes", "iter_logs", "iter_metric_points", "iter_spans"]
