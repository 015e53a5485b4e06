"""JSON responses written by orjson: a large report leaves several times sooner.

Flask's own provider writes with the standard library's json, which took 210 ms for the
21,568 rows of the benchmark's biggest org's usage by day and user (a 14 MB body);
orjson, already what Mojule reads bodies and writes exports with, takes 30 ms. It writes
what Flask's provider wrote: keys sorted, Decimal money as its exact text, dates as HTTP
dates, dataclasses as objects. Two differences, both still JSON that any reader decodes
to the same values: text outside ASCII is written as UTF-8 rather than ``\\u`` escapes, and
a float NaN or infinity as null rather than the ``NaN`` no JSON parser has to accept.

What orjson cannot write (an integer beyond 64 bits, from a stored attribute; a dict with
keys other than text) falls back to the standard library, as do the template filter's
options (``tojson(indent=2)``).
"""
from __future__ import annotations

import dataclasses
import decimal
from datetime import date
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider
from werkzeug.http import http_date

# Keys that are not text (none of the API's are) make orjson refuse, and the standard
# library write them: it orders integer keys as numbers, orjson would as text.
OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
           | orjson.OPT_PASSTHROUGH_DATACLASS)


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider, writing with orjson (reading is unchanged)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:
            return super().dumps(obj, **kwargs)
        return self._bytes(obj).decode()

    def response(self, *args: Any, **kwargs: Any):
        """Return a response whose body is the JSON of the arguments, as ``jsonify`` does."""
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self._bytes(obj) + b"\n", mimetype=self.mimetype)

    def _bytes(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=_default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().dumps(obj, separators=(",", ":")).encode()


def _default(value: Any) -> Any:
    """Write what orjson does not as Flask's provider does."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, date):
        return http_date(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
