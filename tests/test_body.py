"""Reading the request body: media type, content coding, size limits with bounded memory,
and hostile JSON answered 400, never 500. Nothing of a refused request is written.
"""
from __future__ import annotations

import gzip
import resource
import zlib

import pytest
import zstandard

from mojule.body import DRAIN_LIMITS
from tests.conftest import fixture_bytes
from tests.ingest_support import app_client, fixture_payload, org_row_counts, records

GIB = 1024 ** 3
MIB = 1024 ** 2
LOGS = fixture_bytes("bash-tool", "logs")
LOG_COUNT = len(records(fixture_payload("bash-tool", "logs"), "logs"))


def post(client, org, body: bytes, **headers):
    return client.post("/v1/logs", data=body, headers={**org.headers, **headers})


def assert_error(response, status: int, error: str) -> dict:
    assert response.status_code == status
    assert response.is_json
    answer = response.get_json()
    assert answer["error"] == error
    assert answer["message"]
    return answer


def deflate(data: bytes) -> bytes:
    """``data`` as a zlib-wrapped deflate stream, which is what HTTP's "deflate" means."""
    return zlib.compress(data)


def gzip_of_zeros(size: int, chunk: int = MIB) -> bytes:
    """A gzip stream that inflates to ``size`` zero bytes, built without holding them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(chunk)
    parts = [compressor.compress(zeros) for _ in range(size // chunk)]
    parts.append(compressor.flush())
    return b"".join(parts)


def peak_rss_bytes() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class ChunkedBody:
    """A request body of unknown length, as a chunked upload reaches the app under gunicorn.

    It yields ``total`` bytes of ``data`` repeated and remembers how much was read.
    """

    def __init__(self, data: bytes, total: int | None = None):
        self.data = data
        self.total = len(data) if total is None else total
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        left = self.total - self.position
        size = left if size is None or size < 0 else min(size, left)
        start = self.position % len(self.data)
        piece = (self.data[start:] + self.data * (size // len(self.data) + 1))[:size]
        self.position += len(piece)
        return piece

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def post_chunked(client, org, stream: ChunkedBody, **headers):
    return client.post("/v1/logs", headers={**org.headers, "Transfer-Encoding": "chunked",
                                            **headers},
                       environ_overrides={"wsgi.input": stream, "wsgi.input_terminated": True})


@pytest.mark.parametrize("content_type", [
    "application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8",
    "APPLICATION/JSON; foo=bar",
])
def test_json_media_type_with_any_case_or_parameters_is_accepted(client, org, content_type):
    response = post(client, org, LOGS, **{"Content-Type": content_type})

    assert response.status_code == 202
    assert response.get_json()["counts"]["logEvents"] == LOG_COUNT


@pytest.mark.parametrize("content_type", ["application/x-protobuf", "application/protobuf"])
def test_protobuf_is_415_telling_the_client_to_use_http_json(client, org, db, content_type):
    response = post(client, org, b"\x0a\x00", **{"Content-Type": content_type})

    answer = assert_error(response, 415, "unsupported_media_type")
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/json" in answer["message"]
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "application/jsonl",
    "application/json-patch+json", "multipart/form-data; boundary=x",
])
def test_other_media_types_are_415(client, org, db, content_type):
    response = post(client, org, LOGS, **{"Content-Type": content_type})

    assert_error(response, 415, "unsupported_media_type")
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


def test_missing_content_type_is_415(client, org, db):
    response = client.post("/v1/logs", data=LOGS,
                           headers={"Authorization": org.headers["Authorization"]})

    assert_error(response, 415, "unsupported_media_type")
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress), ("x-gzip", gzip.compress), ("GZIP", gzip.compress),
    ("deflate", deflate), ("zlib", deflate), ("identity", lambda data: data),
    ("gzip", lambda data: gzip.compress(data[:4000]) + gzip.compress(data[4000:])),
], ids=["gzip", "x-gzip", "upper-case", "deflate", "zlib", "identity", "two-gzip-members"])
def test_supported_content_codings_are_decoded(client, org, db, encoding, encode):
    response = post(client, org, encode(LOGS), **{"Content-Encoding": encoding})

    assert response.status_code == 202
    assert response.get_json()["counts"]["logEvents"] == LOG_COUNT
    assert org_row_counts(db, org.org.org_id)["log_events"] == LOG_COUNT


@pytest.mark.parametrize("encode", [lambda data: data, gzip.compress], ids=["plain", "gzip"])
def test_a_leading_utf8_byte_order_mark_is_ignored(client, org, db, encode):
    # RFC 8259 lets a parser ignore it; some writers put one first.
    response = post(client, org, encode(b"\xef\xbb\xbf" + LOGS),
                    **({"Content-Encoding": "gzip"} if encode is gzip.compress else {}))

    assert response.status_code == 202
    assert org_row_counts(db, org.org.org_id)["log_events"] == LOG_COUNT


@pytest.mark.parametrize("encoding", ["br", "lz4", "compress", "snappy", "gzip, br", "zstd, gzip"])
def test_unknown_content_coding_is_415(client, org, db, encoding):
    response = post(client, org, LOGS, **{"Content-Encoding": encoding})

    assert_error(response, 415, "unsupported_media_type")
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


def corrupted_crc(data: bytes) -> bytes:
    body = bytearray(gzip.compress(data))
    body[-8] ^= 0xFF        # the CRC32 in the gzip trailer
    return bytes(body)


@pytest.mark.parametrize("encoding, body", [
    ("gzip", b"\x1f\x8b\x08\x00 definitely not deflate"),
    ("gzip", gzip.compress(LOGS)[:-20]),
    ("gzip", gzip.compress(LOGS)[:10]),
    ("gzip", corrupted_crc(LOGS)),
    ("gzip", LOGS),
    ("gzip", gzip.compress(LOGS) + b"trailing garbage"),
    ("deflate", deflate(LOGS)[:-30]),
    ("deflate", b"\x78\x9c not deflate"),
], ids=["garbage", "truncated", "header-only", "bad-crc", "not-compressed", "trailing-garbage",
        "truncated-deflate", "garbage-deflate"])
def test_corrupt_or_truncated_compressed_body_is_400(client, org, db, encoding, body):
    response = post(client, org, body, **{"Content-Encoding": encoding})

    assert_error(response, 400, "bad_request")
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


def test_body_over_the_limit_is_413_and_writes_nothing(config, org, db):
    with app_client(config, MAX_BODY_BYTES=len(LOGS) - 1) as client:
        response = post(client, org, LOGS)

    assert_error(response, 413, "payload_too_large")
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


@pytest.mark.parametrize("terminated", [False, True], ids=["plain", "input_terminated"])
def test_body_at_the_limit_is_accepted_and_one_byte_more_is_413(config, org, terminated):
    # gunicorn sets wsgi.input_terminated, under which Werkzeug enforces its own limit on
    # the stream too, and cannot tell a body of exactly that size from a longer one.
    environ = {"wsgi.input_terminated": True} if terminated else {}
    with app_client(config, MAX_BODY_BYTES=len(LOGS)) as client:
        at_limit = client.post("/v1/logs", data=LOGS, headers=org.headers,
                               environ_overrides=environ)
        over = client.post("/v1/logs", data=LOGS + b" ", headers=org.headers,
                           environ_overrides=environ)

    assert at_limit.status_code == 202
    assert_error(over, 413, "payload_too_large")


def test_small_gzip_that_inflates_past_the_limit_is_413(config, org, db):
    compressed = gzip.compress(LOGS)
    assert len(compressed) < len(LOGS) // 2

    with app_client(config, MAX_BODY_BYTES=len(compressed) * 2) as client:
        response = post(client, org, compressed, **{"Content-Encoding": "gzip"})

    assert_error(response, 413, "payload_too_large")
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


def test_limit_applies_to_the_sum_of_several_gzip_members(config, org):
    half = len(LOGS) // 2
    body = gzip.compress(LOGS[:half]) + gzip.compress(LOGS[half:])

    with app_client(config, MAX_BODY_BYTES=len(LOGS) - 1) as client:
        response = post(client, org, body, **{"Content-Encoding": "gzip"})

    assert_error(response, 413, "payload_too_large")


def test_one_gib_gzip_bomb_is_413_without_ballooning_memory(client, org, db):
    bomb = gzip_of_zeros(GIB)
    assert len(bomb) < 2 * MIB
    peak_before = peak_rss_bytes()

    response = post(client, org, bomb, **{"Content-Encoding": "gzip"})

    assert_error(response, 413, "payload_too_large")
    assert peak_rss_bytes() - peak_before < 256 * MIB
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


def test_one_gib_bomb_of_many_gzip_members_is_413(client, org):
    member = gzip.compress(bytes(16 * MIB))
    bomb = member * (GIB // (16 * MIB))
    peak_before = peak_rss_bytes()

    response = post(client, org, bomb, **{"Content-Encoding": "gzip"})

    assert_error(response, 413, "payload_too_large")
    assert peak_rss_bytes() - peak_before < 256 * MIB


def test_chunked_body_without_content_length_is_read_and_stored(client, org, db):
    response = post_chunked(client, org, ChunkedBody(LOGS))

    assert response.status_code == 202
    assert org_row_counts(db, org.org.org_id)["log_events"] == LOG_COUNT


def test_chunked_gzip_body_is_read_and_stored(client, org, db):
    response = post_chunked(client, org, ChunkedBody(gzip.compress(LOGS)),
                            **{"Content-Encoding": "gzip"})

    assert response.status_code == 202
    assert org_row_counts(db, org.org.org_id)["log_events"] == LOG_COUNT


def test_chunked_body_over_the_limit_is_413_and_reading_stops_near_the_limit(config, org, db):
    # Past the limit, what is left is read and discarded (body.drain), so that a client
    # still sending hears the 413, but only up to a few times the limit.
    limit = 64 * 1024
    stream = ChunkedBody(b" " * 4096, total=GIB)

    with app_client(config, MAX_BODY_BYTES=limit) as client:
        response = post_chunked(client, org, stream)

    assert_error(response, 413, "payload_too_large")
    assert stream.position <= (2 + DRAIN_LIMITS) * limit
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


@pytest.mark.parametrize("body", [
    b"not json", b"{", b'{"resourceLogs": [}', b"", b"\xef\xbb\xbf\xef\xbb\xbf{}", b"{} {}",
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "\xff\xfe"}}]}]}]}',
    b'{"a": "\xc3\x28"}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"[" * 100_000,
], ids=["text", "unterminated", "syntax", "empty", "two-boms", "two-documents", "invalid-utf8",
        "invalid-utf8-sequence", "deep-arrays", "deep-objects", "deep-unterminated"])
def test_body_that_is_not_one_json_document_is_400_never_500(client, org, db, body):
    response = post(client, org, body)

    assert_error(response, 400, "bad_request")
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


@pytest.mark.parametrize("body", [b"[]", b'"resourceLogs"', b"42", b"null", b"true",
                                  b'[{"resourceLogs": []}]'])
def test_json_that_is_not_an_object_is_400(client, org, body):
    assert_error(post(client, org, body), 400, "bad_request")


@pytest.mark.parametrize("body", [b'{"resourceLogs": {}}', b'{"resourceLogs": "x"}',
                                  b'{"resource_logs": 7}'])
def test_export_request_whose_record_list_is_not_a_list_is_400(client, org, body):
    assert_error(post(client, org, body), 400, "bad_request")


def test_deeply_nested_gzip_body_is_400(client, org):
    body = gzip.compress(b"[" * 500_000 + b"]" * 500_000)

    assert_error(post(client, org, body, **{"Content-Encoding": "gzip"}), 400, "bad_request")


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def zstd_streamed(data: bytes, **params) -> bytes:
    """``data`` as one zstd frame of unknown size, as a streaming encoder writes it."""
    compression = zstandard.ZstdCompressionParameters.from_level(3, write_content_size=False,
                                                                 **params)
    compressor = zstandard.ZstdCompressor(compression_params=compression).compressobj()
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("encode", [
    zstd, zstd_streamed, lambda data: zstd(data[:4000]) + zstd_streamed(data[4000:]),
], ids=["one-frame", "streamed", "two-frames"])
def test_zstd_bodies_are_decoded(client, org, db, encode):
    response = post(client, org, encode(LOGS), **{"Content-Encoding": "zstd"})

    assert response.status_code == 202
    assert response.get_json()["counts"]["logEvents"] == LOG_COUNT
    assert org_row_counts(db, org.org.org_id)["log_events"] == LOG_COUNT


@pytest.mark.parametrize("body, message", [
    (zstd(LOGS)[:-20], "corrupt or truncated"),
    (zstd_streamed(LOGS)[:-3], "corrupt or truncated"),
    (zstd(LOGS) + b"trailing garbage", "corrupt or truncated"),
    (b"\x28\xb5\x2f\xfd not zstd at all", "corrupt or truncated"),
    (LOGS, "corrupt or truncated"),
    (zstd_streamed(LOGS, window_log=28), "window over 32 MiB"),
], ids=["truncated", "truncated-stream", "trailing-garbage", "garbage", "not-compressed",
        "huge-window"])
def test_a_corrupt_truncated_or_greedy_zstd_body_is_400(client, org, db, body, message):
    response = post(client, org, body, **{"Content-Encoding": "zstd"})

    assert message in assert_error(response, 400, "bad_request")["message"]
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


def test_one_gib_zstd_bomb_is_413_without_ballooning_memory(client, org, db):
    compressor = zstandard.ZstdCompressor().compressobj()
    zeros = bytes(MIB)
    bomb = b"".join(compressor.compress(zeros) for _ in range(GIB // MIB)) + compressor.flush()
    assert len(bomb) < MIB
    peak_before = peak_rss_bytes()

    response = post(client, org, bomb, **{"Content-Encoding": "zstd"})

    assert_error(response, 413, "payload_too_large")
    assert peak_rss_bytes() - peak_before < 256 * MIB
    assert org_row_counts(db, org.org.org_id)["log_events"] == 0


@pytest.mark.parametrize("encoding, member", [
    ("gzip", gzip.compress(b"", mtime=0)),
    ("zstd", zstandard.ZstdCompressor(write_checksum=False).compress(b"")),
])
def test_a_body_of_more_than_1024_compressed_members_is_400(client, org, db, encoding, member):
    # Tens of thousands of empty members kept a worker decoding for seconds (the rest of
    # the body was copied once per member); exporters send one.
    many = post(client, org, member * 100_000 + gzip.compress(LOGS) if encoding == "gzip"
                else member * 100_000 + zstd(LOGS), **{"Content-Encoding": encoding})
    most = post(client, org, member * 1023 + (gzip.compress(LOGS) if encoding == "gzip"
                                              else zstd(LOGS)), **{"Content-Encoding": encoding})

    assert "over 1024" in assert_error(many, 400, "bad_request")["message"]
    assert most.status_code == 202
    assert org_row_counts(db, org.org.org_id)["log_events"] == LOG_COUNT
