"""Reading an OTLP/HTTP JSON request body: media type, content coding, size, JSON.

The size limit applies to the decompressed bytes and is enforced while streaming, so a
chunked body or a gzip or zstd bomb cannot make a worker allocate more than the limit
(and, for zstd, one bounded step past it).

Content codings: gzip, which every OTLP server must take; deflate (zlib), which the
Python exporters and the Collector send; and zstd, which the Collector and the Rust
exporter offer and which gateways forwarding to Mojule are often set to. snappy and lz4
(the Collector only) get 415, naming those that work.
"""
from __future__ import annotations

import json
import time
import zlib
from typing import Any

import orjson
import zstandard
from flask import Flask, Request, Response, current_app, g, request

from mojule.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

READ_CHUNK = 64 * 1024
PROTOBUF_TYPES = {"application/x-protobuf", "application/protobuf"}
UTF8_BOM = b"\xef\xbb\xbf"
# zstd is fed this many compressed bytes at a time: its decompressor has no output bound,
# and four bytes can stand for a 128 KiB block, so a step yields at most 4 MiB.
ZSTD_STEP = 128
ZSTD_MAX_HEADER = 18     # the longest zstd frame header, where the window size is read
# Gzip members or zstd frames in one body: exporters send one, bgzip-style writers a few
# hundred; more is a body built to make the worker start a decoder per dozen bytes.
MAX_MEMBERS = 1024
# The largest window a zstd frame may ask for (the decoder allocates it): 32 MiB, what
# compression level 19 uses; the default limit, 128 MiB, would let a 20-byte body do so.
ZSTD_MAX_WINDOW = 32 * 1024 * 1024
# What is read of a refused request's unread body before the answer (see ``drain``): a
# few times the body limit, for at most a few seconds.
DRAIN_LIMITS = 4
DRAIN_SECONDS = 5.0


class ProtobufNotAccepted(UnsupportedMediaType):
    """Mojule accepts OTLP over HTTP/JSON only: set OTEL_EXPORTER_OTLP_PROTOCOL=http/json."""


class UnknownContentEncoding(UnsupportedMediaType):
    """Unsupported Content-Encoding: send gzip, deflate, zstd or an uncompressed body."""


class CorruptBody(BadRequest):
    """The compressed request body is corrupt or truncated."""


class ZstdWindowTooLarge(BadRequest):
    """The zstd frame asks for a window over 32 MiB: compress at level 19 or lower."""


class TooManyMembers(BadRequest):
    """The compressed body has over 1024 gzip members or zstd frames; send one."""


class NotJson(BadRequest):
    """The request body is not valid JSON."""


def init_app(app: Flask) -> None:
    """Read what is left of a refused request's body before answering it."""
    app.after_request(drain)


def drain(response: Response) -> Response:
    """Read and discard what is left of an authenticated export's body when it is refused
    (413, 415, 400), up to DRAIN_LIMITS times the body limit and DRAIN_SECONDS, then let
    the answer go.

    A 413 or 415 is decided before the body is read, or part way through it. A client
    streaming its body (OTel JS pipes it, chunked) is then still writing when the worker
    answers and closes the socket: with unread bytes in its buffer the kernel resets the
    connection, and the client sees EPIPE or ECONNRESET instead of the answer. Exporters
    retry those, where they drop a batch refused with 413 or 415.

    Only an export whose token was accepted is drained: nothing of an unauthenticated
    request's body is ever read, or anyone could hold the workers with bodies that never
    come. The deadline holds while a read waits: gunicorn's socket gets it as a timeout.
    Behind nginx, which reads whole bodies before passing them on, this reads nothing.
    """
    if not 400 <= response.status_code < 500 or g.get("ingest") is None \
            or not _may_have_unread_body():
        return response
    stream = request.environ["wsgi.input"]
    sock = request.environ.get("gunicorn.socket")
    timeout = sock.gettimeout() if sock is not None else None
    budget = DRAIN_LIMITS * current_app.config["MOJULE"]["MAX_BODY_BYTES"]
    deadline = time.monotonic() + DRAIN_SECONDS
    try:
        while budget > 0 and (left := deadline - time.monotonic()) > 0:
            if sock is not None:
                sock.settimeout(left)
            chunk = stream.read(min(READ_CHUNK, budget))
            if not chunk:
                break
            budget -= len(chunk)
    except (OSError, ValueError):
        pass    # the client went away, or was too slow: the answer goes as it is
    finally:
        if sock is not None:
            sock.settimeout(timeout)
    return response


def _may_have_unread_body() -> bool:
    if request.environ.get("wsgi.input") is None:
        return False
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return chunked or (request.content_length or 0) > 0


def check_media_type(request: Request) -> None:
    """Refuse, from its headers alone, a body Mojule cannot read: a type other than JSON,
    or an unknown content coding. Raises UnsupportedMediaType (415)."""
    media_type = request.mimetype
    if media_type in PROTOBUF_TYPES:
        raise ProtobufNotAccepted()
    if media_type != "application/json":
        raise UnsupportedMediaType()
    _decoder(request.headers.get("Content-Encoding", ""))


def read_otlp_json(request: Request, max_bytes: int) -> Any:
    """Return the parsed JSON body of an OTLP export request.

    Raises UnsupportedMediaType (415), PayloadTooLarge (413), CorruptBody or NotJson (400).
    """
    check_media_type(request)
    decode = _decoder(request.headers.get("Content-Encoding", ""))
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge()
    raw = _read_limited(request.stream, max_bytes)
    body = raw if decode is None else decode(raw, max_bytes)
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


def _decoder(content_encoding: str):
    """The function that decodes a body of this content coding, given the size limit;
    None for an uncompressed body. Raises UnknownContentEncoding."""
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return lambda raw, max_bytes: _inflate(
            raw, lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), max_bytes)
    if coding in ("deflate", "zlib"):
        # zlib-wrapped deflate per RFC 9110 (the OpenTelemetry Collector's `compression:
        # zlib` names it "zlib"); the "+32" auto-detect also takes gzip.
        return lambda raw, max_bytes: _inflate(
            raw, lambda: zlib.decompressobj(32 + zlib.MAX_WBITS), max_bytes)
    if coding == "zstd":
        return _unzstd
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
    """Decompress ``raw`` (one or more gzip or zlib members) up to ``max_bytes``."""
    def feed(decompressor, chunk, room):
        # zlib bounds each output by ``room``; what it has not read yet it keeps.
        yield decompressor.decompress(chunk, room())
        while decompressor.unconsumed_tail:
            yield decompressor.decompress(decompressor.unconsumed_tail, room())

    return _decode_members(raw, max_bytes, lambda member: make_decompressor(), feed,
                           READ_CHUNK, zlib.error)


def _unzstd(raw: bytes, max_bytes: int) -> bytes:
    """Decompress ``raw`` (one or more zstd frames) up to ``max_bytes``."""
    decompressors = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)

    def start(frame: memoryview):
        if zstandard.get_frame_parameters(frame[:ZSTD_MAX_HEADER]).window_size \
                > ZSTD_MAX_WINDOW:
            raise ZstdWindowTooLarge()
        return decompressors.decompressobj()

    def feed(decompressor, chunk, room):
        # No output bound: ZSTD_STEP keeps each output small.
        yield decompressor.decompress(chunk)

    return _decode_members(raw, max_bytes, start, feed, ZSTD_STEP, zstandard.ZstdError)


def _decode_members(raw: bytes, max_bytes: int, start, feed, step: int, error) -> bytes:
    """Decode ``raw``, up to MAX_MEMBERS concatenated members (gzip, zlib) or frames
    (zstd), into at most ``max_bytes``. ``start(view)`` returns the decoder of the member
    at the view's start; ``feed(decoder, chunk, room)`` yields what a chunk decodes to,
    where ``room()`` is how much more may come. ``error`` is the decoders' exception.

    The input is fed ``step`` bytes at a time from an offset, never re-sliced whole: a
    body of many tiny members would otherwise cost time growing with their square.
    """
    out, total, view, offset = [], 0, memoryview(raw), 0

    def room() -> int:
        return max_bytes + 1 - total

    try:
        for _ in range(MAX_MEMBERS):
            decoder = start(view[offset:])
            position = offset
            while not decoder.eof and position < len(view):
                chunk = view[position:position + step]
                position += len(chunk)
                for data in feed(decoder, chunk, room):
                    total += len(data)
                    if total > max_bytes:
                        raise PayloadTooLarge()
                    out.append(data)
            if not decoder.eof:
                raise CorruptBody()     # truncated: the member never ended
            offset = position - len(decoder.unused_data)
            if offset >= len(view):
                return b"".join(out)
    except error:
        raise CorruptBody() from None
    raise TooManyMembers()
