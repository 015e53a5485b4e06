"""Reading an OTLP/HTTP JSON request body: media type, content coding, size, JSON.

The size limit applies to the decompressed bytes and is enforced while streaming, so a
chunked body or a gzip bomb cannot make a worker allocate more than the limit.
"""
from __future__ import annotations

import json
import zlib
from typing import Any

import orjson
from flask import Request

from mojule.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

READ_CHUNK = 64 * 1024
PROTOBUF_TYPES = {"application/x-protobuf", "application/protobuf"}
UTF8_BOM = b"\xef\xbb\xbf"


class ProtobufNotAccepted(UnsupportedMediaType):
    """Mojule accepts OTLP over HTTP/JSON only: set OTEL_EXPORTER_OTLP_PROTOCOL=http/json."""


class UnknownContentEncoding(UnsupportedMediaType):
    """Unsupported Content-Encoding: send gzip, deflate or an uncompressed body."""


class CorruptBody(BadRequest):
    """The compressed request body is corrupt or truncated."""


class NotJson(BadRequest):
    """The request body is not valid JSON."""


def check_media_type(request: Request) -> None:
    """Refuse, from its headers alone, a body Mojule cannot read: a type other than JSON,
    or an unknown content coding. Raises UnsupportedMediaType (415)."""
    media_type = request.mimetype
    if media_type in PROTOBUF_TYPES:
        raise ProtobufNotAccepted()
    if media_type != "application/json":
        raise UnsupportedMediaType()
    _decompressor(request.headers.get("Content-Encoding", ""))


def read_otlp_json(request: Request, max_bytes: int) -> Any:
    """Return the parsed JSON body of an OTLP export request.

    Raises UnsupportedMediaType (415), PayloadTooLarge (413), CorruptBody or NotJson (400).
    """
    check_media_type(request)
    decompressor = _decompressor(request.headers.get("Content-Encoding", ""))
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge()
    raw = _read_limited(request.stream, max_bytes)
    body = raw if decompressor is None else _inflate(raw, decompressor, max_bytes)
    return parse_json(body)


def parse_json(body: bytes) -> Any:
    """Parse JSON bytes. Raises NotJson for anything that is not one JSON document.

    orjson is fast and strict; when it refuses (say, a lone UTF-16 surrogate escape, a
    bare NaN or a 5000-digit number inside one record) the standard parser gets a second
    look so that one bad record can be skipped later instead of failing the whole batch.
    A leading UTF-8 byte order mark is ignored, as RFC 8259 (8.1) allows: some writers
    (.NET's UTF-8 StreamWriter) put one first, and a 400 would make the exporter drop the
    batch.
    """
    body = body.removeprefix(UTF8_BOM)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body.decode("utf-8"), parse_int=_parse_int)
    except (ValueError, RecursionError):
        raise NotJson() from None


def _parse_int(digits: str) -> int | float:
    # int() refuses more than 4300 digits. No OTLP integer is that long, so such a number
    # becomes an infinity, which the decoder refuses for the one record holding it, as
    # orjson turns any integer past 64 bits into a float.
    try:
        return int(digits)
    except ValueError:
        return float(digits)


def _decompressor(content_encoding: str):
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding in ("deflate", "zlib"):
        # zlib-wrapped deflate per RFC 9110 (the OpenTelemetry Collector's `compression:
        # zlib` names it "zlib"); the "+32" auto-detect also takes gzip.
        return lambda: zlib.decompressobj(32 + zlib.MAX_WBITS)
    raise UnknownContentEncoding()


def _read_limited(stream, max_bytes: int) -> bytes:
    chunks, total = [], 0
    while chunk := stream.read(READ_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _inflate(raw: bytes, make_decompressor, max_bytes: int) -> bytes:
    """Decompress ``raw`` (possibly several concatenated members) up to ``max_bytes``."""
    out, total, pending = [], 0, raw
    while pending:
        decompressor = make_decompressor()
        try:
            data = decompressor.decompress(pending, max_bytes + 1 - total)
            while True:
                total += len(data)
                if total > max_bytes:
                    raise PayloadTooLarge()
                out.append(data)
                if not decompressor.unconsumed_tail:
                    break
                data = decompressor.decompress(decompressor.unconsumed_tail, max_bytes + 1 - total)
        except zlib.error:
            raise CorruptBody() from None
        if not decompressor.eof:
            raise CorruptBody()
        pending = decompressor.unused_data
    return b"".join(out)
