"""Fuzzing the receiver: no generated body gets a 500, and none reaches another org.

Hypothesis generates the bodies, in four shapes: random bytes under random content types
and encodings; the recorded Claude Code exports with parts replaced by arbitrary JSON (the
OTLP field names included, so the mutations reach the decoder's depths); the same exports
with their text cut and spliced; and random bearer tokens. Every answer must be one the
API reference lists for its case, as a JSON body, and every row written must belong to the
token's org. PostgreSQL is up throughout, so a 503 would be a value the decoder let
through and PostgreSQL refused: it fails the test like a 500.

The suite runs a few hundred bodies of each shape with a fixed seed (the "default"
profile in conftest.py); ``make fuzz`` runs 34,000 of each with fresh ones: the security
bar's 100,000 bodies reaching the handler, from the three body shapes.
"""
from __future__ import annotations

import copy
import gzip
import json
import zlib
from collections import Counter

import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_org
from tests.ingest_support import SESSIONS, SIGNALS, fixture_payload, org_row_counts

# What a fuzzed body may get: stored (wholly or partly), refused as malformed, too large
# or of an unsupported type or encoding.
BODY_ANSWERS = {202, 400, 413, 415}
# OTLP/JSON field names, so generated objects look like what the decoder reads.
OTLP_KEYS = ("resourceLogs", "scopeLogs", "logRecords", "resourceMetrics", "scopeMetrics",
             "metrics", "resourceSpans", "scopeSpans", "spans", "resource", "scope",
             "attributes", "key", "value", "stringValue", "intValue", "doubleValue",
             "boolValue", "arrayValue", "kvlistValue", "bytesValue", "values", "body",
             "timeUnixNano", "observedTimeUnixNano", "startTimeUnixNano", "endTimeUnixNano",
             "traceId", "spanId", "parentSpanId", "name", "sum", "gauge", "histogram",
             "dataPoints", "asInt", "asDouble", "aggregationTemporality", "isMonotonic",
             "severityNumber", "kind", "status", "events", "links", "session.id",
             "event.name", "user.email", "model", "cost_usd", "input_tokens", "prompt")
CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                 "application/x-protobuf", "text/plain", "application/jsonl", "")
ENCODINGS = ("", "identity", "gzip", "deflate", "br", "zstd", "gzip, gzip")

# Values that have broken receivers: NUL and lone surrogates (PostgreSQL refuses both),
# numbers past 64 bits or float range, and text that reads as a number or a hex id.
AWKWARD_TEXTS = ("\x00", "a\x00b", "\ud800", "x\udfff", "", " ", "NaN", "Infinity", "-0",
                 "1e309", "18446744073709551616", "-9223372036854775809", "0x1F", "zz",
                 "\u2028", "\U0001F600" * 3, "9" * 5000)
AWKWARD_NUMBERS = (2 ** 63, -2 ** 63 - 1, 2 ** 64, 10 ** 400, -0.0, 1e308, 5e-324, 0.1)
scalars = (st.none() | st.booleans() | st.integers(min_value=-2 ** 80, max_value=2 ** 80)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=40) | st.sampled_from(OTLP_KEYS)
           | st.integers(min_value=0, max_value=2 ** 64).map(str))
json_values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.sampled_from(OTLP_KEYS) | st.text(max_size=8),
                                        children, max_size=4)),
    max_leaves=12)


def exports():
    """The recorded exports, each as (signal, decoded body)."""
    return [(signal, fixture_payload(session, signal))
            for session in SESSIONS for signal in SIGNALS]


EXPORTS = exports()


def json_paths(node, path=()):
    """Every path into a decoded JSON document, the root's children first."""
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ())
    for key, child in items:
        yield (*path, key)
        yield from json_paths(child, (*path, key))


def node_at(document, path):
    for key in path:
        document = document[key]
    return document


def alike(leaf):
    """A strategy for values of the same JSON kind as ``leaf``, the awkward ones first."""
    if isinstance(leaf, str):
        return st.sampled_from(AWKWARD_TEXTS) | st.text(max_size=40)
    if isinstance(leaf, bool) or leaf is None:
        return scalars
    return st.sampled_from(AWKWARD_NUMBERS) | st.integers() | st.floats()


def replaced(document, path, value):
    """A copy of ``document`` with the node at ``path`` replaced by ``value``."""
    result = copy.deepcopy(document)
    parent = result
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return result


@st.composite
def mutated_exports(draw):
    """(signal, body bytes): a recorded export with one to four nodes replaced.

    A node is replaced by any JSON, or a leaf by one of its own kind (text by text, a
    number by a number): such a record still looks right on the outside, so the value
    travels deep, as far as PostgreSQL if nothing stops it.
    """
    signal, document = draw(st.sampled_from(EXPORTS))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = list(json_paths(document))
        leaves = [path for path in paths if not isinstance(node_at(document, path), (dict, list))]
        if leaves and draw(st.booleans()):
            path = draw(st.sampled_from(leaves))
            document = replaced(document, path, draw(alike(node_at(document, path))))
        else:
            document = replaced(document, draw(st.sampled_from(paths)), draw(json_values))
    ascii_only = draw(st.booleans())
    # allow_nan: Python writes NaN and Infinity, which the receiver must refuse, not store.
    text = json.dumps(document, ensure_ascii=ascii_only)
    return signal, text.encode("utf-8", "surrogatepass")


@st.composite
def spliced_exports(draw):
    """(signal, body bytes): a recorded export's text with a stretch cut and bytes put in."""
    signal, document = draw(st.sampled_from(EXPORTS))
    body = json.dumps(document).encode()
    start = draw(st.integers(min_value=0, max_value=len(body)))
    end = draw(st.integers(min_value=start, max_value=min(len(body), start + 64)))
    return signal, body[:start] + draw(st.binary(max_size=16)) + body[end:]


def encode(body: bytes, encoding: str) -> bytes:
    """``body`` compressed as ``encoding`` says, when it names a compression we can make."""
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(body)
    return body


def post(client, test_org, signal, body, content_type="application/json", encoding=""):
    headers = {"Authorization": f"Bearer {test_org.token}"}
    if content_type:
        headers["Content-Type"] = content_type
    if encoding:
        headers["Content-Encoding"] = encoding
    return client.post(f"/v1/{signal}", data=body, headers=headers)


def assert_answer(response, allowed=BODY_ANSWERS, answers=None):
    """The answer is one the API reference lists, with a JSON body of the right shape."""
    assert response.status_code in allowed, (response.status_code, response.get_data()[:300])
    if answers is not None:
        answers[response.status_code] += 1
    answer = response.get_json()
    assert isinstance(answer, dict), response.get_data()[:300]
    if response.status_code == 202:
        assert answer["accepted"] is True
        assert all(isinstance(n, int) and n >= 0 for n in answer["counts"].values())
        assert isinstance(answer["skipped"], int) and answer["skipped"] >= 0
        assert ("partialSuccess" in answer) == (answer["skipped"] > 0)
    else:
        assert answer.get("error")


def is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


class Bystander:
    """Another org, whose rows must be exactly as they were however the fuzzing went."""

    def __init__(self, db):
        self.db = db
        self.org_id = make_org(db).org.org_id
        self.rows = org_row_counts(db, self.org_id)

    def assert_untouched(self):
        assert org_row_counts(self.db, self.org_id) == self.rows


def fuzz_settings(test):
    # One org for all of a test's bodies: the fixtures are made once, outside the examples.
    return settings(suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])(test)


def test_random_bytes_under_any_type_and_encoding_get_a_listed_answer(client, org, db):
    bystander = Bystander(db)
    answers = Counter()

    @fuzz_settings
    @given(signal=st.sampled_from(SIGNALS), body=st.binary(max_size=512),
           content_type=st.sampled_from(CONTENT_TYPES), encoding=st.sampled_from(ENCODINGS))
    def check(signal, body, content_type, encoding):
        response = post(client, org, signal, encode(body, encoding), content_type, encoding)
        assert_answer(response, answers=answers)
        media_type = content_type.split(";")[0].strip().lower()
        if media_type == "application/json" and encoding in ("", "identity", "gzip",
                                                             "deflate", "zstd"):
            assert response.status_code == (202 if is_json_object(body) else 400)

    check()
    bystander.assert_untouched()
    assert answers[400] and answers[415], answers


def test_exports_with_parts_replaced_by_any_json_are_stored_or_refused(client, org, db):
    bystander = Bystander(db)
    answers = Counter()

    @fuzz_settings
    @given(export=mutated_exports(), encoding=st.sampled_from(("", "gzip", "deflate")))
    def check(export, encoding):
        signal, body = export
        assert_answer(post(client, org, signal, encode(body, encoding), encoding=encoding),
                      {202, 400}, answers)

    check()
    bystander.assert_untouched()
    assert answers[202] and answers[400], answers   # the bodies reached storage, and refusal


def test_exports_with_text_cut_and_spliced_are_stored_or_refused(client, org, db):
    bystander = Bystander(db)
    answers = Counter()

    @fuzz_settings
    @given(export=spliced_exports())
    def check(export):
        signal, body = export
        assert_answer(post(client, org, signal, body), {202, 400}, answers)

    check()
    bystander.assert_untouched()
    assert answers[202] and answers[400], answers   # the bodies reached storage, and refusal


def test_random_bearer_tokens_get_401_and_write_nothing(client, org, db):
    before = org_row_counts(db, org.org.org_id)
    signal, document = EXPORTS[0]
    body = json.dumps(document).encode()

    @fuzz_settings
    @given(token=st.text(st.characters(min_codepoint=0x21, max_codepoint=0xff), max_size=80)
           | st.from_regex(r"mtk_[0-9A-Za-z]{32,60}", fullmatch=True))
    def check(token):
        response = client.post(f"/v1/{signal}", data=body,
                               headers={"Authorization": f"Bearer {token}",
                                        "Content-Type": "application/json"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    check()
    assert org_row_counts(db, org.org.org_id) == before
