"""Records inside an export request: malformed ones are skipped and counted, never fatal;
every OTLP/JSON spelling the specification allows is stored alike; distinct records are
never merged.
"""
from __future__ import annotations

import copy
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mojule import analytics
from tests.ingest_support import (
    COUNT_NAMES,
    REJECTED_NAMES,
    TABLES,
    attributes,
    fixture_payload,
    records,
)

NOW = "1795695270080000000"      # the recorded sessions' clock
FROM = datetime(2020, 1, 1, tzinfo=UTC)
TO = datetime.now(UTC) + timedelta(days=8)


def body_of(payload: dict) -> bytes:
    # json.dumps writes lone surrogates and NUL as \u escapes and NaN bare, as a sloppy
    # exporter would.
    return json.dumps(payload).encode()


def post(client, org, signal: str, payload: dict | bytes):
    body = payload if isinstance(payload, bytes) else body_of(payload)
    return client.post(f"/v1/{signal}", data=body, headers=org.headers)


def stored(db, org_id: int, signal: str) -> int:
    return db.execute(f"SELECT count(*) FROM {TABLES[signal]} WHERE org_id = %s",
                      (org_id,)).fetchone()[0]


def record_ids(db, org_id: int, signal: str) -> set[bytes]:
    return {row[0] for row in db.execute(
        f"SELECT record_id FROM {TABLES[signal]} WHERE org_id = %s", (org_id,))}


def record_list(payload: dict, signal: str) -> list:
    """The first record list of a request (log records, spans, or a metric's data points)."""
    if signal == "logs":
        return payload["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    if signal == "traces":
        return payload["resourceSpans"][0]["scopeSpans"][0]["spans"]
    metric = payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    return metric["sum"]["dataPoints"]


def good_log() -> dict:
    return copy.deepcopy(record_list(fixture_payload("bash-tool", "logs"), "logs")[0])


def good_point() -> dict:
    return copy.deepcopy(record_list(fixture_payload("bash-tool", "metrics"), "metrics")[0])


def good_span() -> dict:
    return copy.deepcopy(record_list(fixture_payload("bash-tool", "traces"), "traces")[0])


def with_changes(record: dict, **changes) -> dict:
    changed = copy.deepcopy(record)
    changed.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del changed[key]
    return changed


BAD_RECORDS = {
    "logs": {
        "not an object": "oops",
        "a list": [1, 2],
        "unparseable timeUnixNano": {"timeUnixNano": "soon"},
        "no timestamp at all": {"body": {"stringValue": "x"}},
        "timestamp in 1970": {"timeUnixNano": "1000"},
        "timestamp far in the future": {"timeUnixNano": str(2 ** 62)},
        "NUL byte in eventName": {"timeUnixNano": NOW, "eventName": "user\u0000prompt"},
        "lone surrogate in severityText": {"timeUnixNano": NOW, "severityText": "INFO\ud800"},
        "attributes not a list": {"timeUnixNano": NOW, "attributes": {"k": "v"}},
    },
    "traces": {
        "not an object": 7,
        "bad traceId": with_changes(good_span(), traceId="not-hex-at-all-but-32-chars-long"),
        "short spanId": with_changes(good_span(), spanId="abc"),
        "all-zero traceId": with_changes(good_span(), traceId="0" * 32),
        "missing spanId": with_changes(good_span(), spanId=None),
        "NUL byte in name": with_changes(good_span(), name="claude_code.\u0000tool"),
        "lone surrogate in name": with_changes(good_span(), name="claude_code.\udc80"),
        "negative start time": with_changes(good_span(), startTimeUnixNano="-5"),
    },
    "metrics": {
        "not an object": None,
        "NaN value": with_changes(good_point(), asDouble=float("nan")),
        "garbage string value": with_changes(good_point(), asDouble="lots"),
        "no value": with_changes(good_point(), asDouble=None),
        "unparseable time": with_changes(good_point(), timeUnixNano="12:00"),
        "asInt out of range": with_changes(good_point(), asDouble=None, asInt=str(2 ** 64)),
    },
}
BAD_CASES = [(signal, case) for signal, cases in BAD_RECORDS.items() for case in cases]


def batch_with(signal: str, bad: list) -> tuple[dict, int]:
    """A recorded request with ``bad`` records spread through its first record list.

    Returns the payload and the number of good records in it.
    """
    payload = fixture_payload("bash-tool", signal)
    good = len(records(payload, signal))
    target = record_list(payload, signal)
    for index, record in enumerate(bad):
        target.insert((index * 3) % (len(target) + 1), copy.deepcopy(record))
    return payload, good


def assert_partial_success(response, signal: str, good: int, skipped: int) -> None:
    assert response.status_code == 202
    answer = response.get_json()
    assert answer["counts"][COUNT_NAMES[signal]] == good
    assert answer["skipped"] == skipped
    assert answer["partialSuccess"][REJECTED_NAMES[signal]] == str(skipped)
    assert answer["partialSuccess"]["errorMessage"]


@pytest.mark.parametrize("signal, case", BAD_CASES)
def test_malformed_record_is_skipped_and_counted_and_the_rest_stored(client, org, db,
                                                                     signal, case):
    payload, good = batch_with(signal, [BAD_RECORDS[signal][case]] * 2)

    response = post(client, org, signal, payload)

    assert_partial_success(response, signal, good, 2)
    assert stored(db, org.org.org_id, signal) == good


@pytest.mark.parametrize("signal", BAD_RECORDS)
def test_batch_of_good_and_every_kind_of_bad_record_stores_exactly_the_good(client, org, db,
                                                                           signal):
    bad = list(BAD_RECORDS[signal].values())
    payload, good = batch_with(signal, bad)

    response = post(client, org, signal, payload)

    assert_partial_success(response, signal, good, len(bad))
    assert stored(db, org.org.org_id, signal) == good


def test_batch_of_only_bad_records_is_202_with_nothing_stored(client, org, db):
    payload, _ = batch_with("traces", list(BAD_RECORDS["traces"].values()))
    payload["resourceSpans"][0]["scopeSpans"][0]["spans"] = list(BAD_RECORDS["traces"].values())

    response = post(client, org, "traces", payload)

    assert_partial_success(response, "traces", 0, len(BAD_RECORDS["traces"]))
    assert stored(db, org.org.org_id, "traces") == 0


def test_staleness_marker_is_stored_without_its_value_and_counted_nowhere(client, org,
                                                                        other_org, db):
    # DataPointFlags.NO_RECORDED_VALUE (1) marks a series that ended: a valid point whose
    # value fields, when it has any, mean nothing. A Prometheus-fed Collector sends them.
    payload = fixture_payload("bash-tool", "metrics")
    metrics = payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    (cost,) = [metric for metric in metrics if metric["name"] == "claude_code.cost.usage"]
    (point,) = cost["sum"]["dataPoints"]
    later = str(int(point["timeUnixNano"]) + 10**9)
    cost["sum"]["dataPoints"] += [with_changes(point, flags=1, timeUnixNano=later,
                                               asDouble=123456.0),
                                  with_changes(point, flags=3, timeUnixNano=later,
                                               startTimeUnixNano=later, asDouble=None)]

    response = post(client, org, "metrics", payload)
    baseline = post(client, other_org, "metrics", fixture_payload("bash-tool", "metrics"))

    answer = response.get_json()
    assert response.status_code == 202 and "partialSuccess" not in answer
    assert answer["skipped"] == 0
    assert answer["counts"]["metricPoints"] == baseline.get_json()["counts"]["metricPoints"] + 2
    assert db.execute("SELECT count(*) FROM metric_points WHERE org_id = %s"
                      " AND metric_name = 'claude_code.cost.usage' AND value IS NULL",
                      (org.org.org_id,)).fetchone() == (2,)
    (with_markers,) = analytics.usage(db, org.org.org_id, FROM, TO)
    (without,) = analytics.usage(db, other_org.org.org_id, FROM, TO)
    assert with_markers["cost_usd"] == without["cost_usd"] > 0
    assert with_markers == without


def test_distribution_with_non_finite_doubles_is_stored_with_them_named(client, org, db):
    # A Prometheus summary with no observations in its window has NaN quantiles; the
    # Collector keeps them and pdata's JSON writes "NaN". The point is kept, count and all.
    payload = fixture_payload("bash-tool", "metrics")
    payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] = [
        {"name": "http_request_duration_seconds", "unit": "s", "summary": {"dataPoints": [
            {"timeUnixNano": NOW, "count": "12", "sum": "+Inf", "quantileValues": [
                {"quantile": 0.5, "value": "NaN"}, {"quantile": 0.99, "value": "-Infinity"}]}]}},
        {"name": "duration", "unit": "s", "histogram": {"dataPoints": [
            {"timeUnixNano": NOW, "count": "1", "sum": 0.5, "min": "NaN", "max": "Infinity",
             "bucketCounts": ["1"]}]}},
    ]

    response = post(client, org, "metrics", payload)

    answer = response.get_json()
    assert answer["counts"]["metricPoints"] == 2 and answer["skipped"] == 0
    stored = dict(db.execute("SELECT kind, distribution FROM metric_points WHERE org_id = %s",
                             (org.org.org_id,)).fetchall())
    assert stored["summary"] == {"count": 12, "sum": "Infinity", "quantileValues": [
        {"quantile": 0.5, "value": "NaN"}, {"quantile": 0.99, "value": "-Infinity"}]}
    assert (stored["histogram"]["min"], stored["histogram"]["max"]) == ("NaN", "Infinity")


def test_a_log_record_whose_clock_is_wrong_is_stored_at_its_observed_time(client, org, db):
    # A device whose clock says 1980 (or next year): the exporter's observed time stands
    # in for it, as logs.proto has it for a record without a time. Without either: skipped.
    payload = fixture_payload("bash-tool", "logs")
    payload["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = [
        with_changes(good_log(), timeUnixNano="315532800000000000", observedTimeUnixNano=NOW),
        with_changes(good_log(), timeUnixNano=str(2 ** 62), observedTimeUnixNano=NOW,
                     eventName="later"),
        with_changes(good_log(), timeUnixNano="315532800000000000",
                     observedTimeUnixNano="315532800000000001", eventName="lost")]

    answer = post(client, org, "logs", payload).get_json()

    assert (answer["counts"]["logEvents"], answer["skipped"]) == (2, 1)
    stored = db.execute("SELECT time, time_unix_nano FROM log_events WHERE org_id = %s"
                        " ORDER BY time_unix_nano", (org.org.org_id,)).fetchall()
    observed = datetime.fromtimestamp(int(NOW) // 1000 / 1e6, UTC)
    assert stored == [(observed, 315532800000000000), (observed, 2 ** 62)]


def test_a_gauge_point_of_nan_or_infinity_is_kept_as_sent_without_a_value(client, org, db):
    # The Collector's JSON writer sends a Prometheus gauge's NaN as "NaN" (and infinities
    # as "+Inf"): the point is kept, its value named in otlp_extra, and nothing sums it.
    payload = fixture_payload("bash-tool", "metrics")
    payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] = [
        {"name": "queue_depth", "gauge": {"dataPoints": [
            {"timeUnixNano": NOW, "asDouble": sent} for sent in ("NaN", "+Inf", "-Inf", 4.5)]}}]

    answer = post(client, org, "metrics", payload).get_json()
    resent = post(client, org, "metrics", payload).get_json()

    assert answer["counts"]["metricPoints"] == 4 and answer["skipped"] == 0
    assert resent["duplicates"] == 4        # each recognised by its value as sent
    stored = db.execute("SELECT value, otlp_extra ->> 'value' FROM metric_points"
                        " WHERE org_id = %s ORDER BY 2", (org.org.org_id,)).fetchall()
    assert sorted(stored, key=str) == sorted(
        [(None, "-Infinity"), (None, "Infinity"), (None, "NaN"), (Decimal("4.5"), None)], key=str)


def test_values_postgresql_cannot_hold_in_typed_columns_cost_only_the_column(client, org, db):
    record = with_changes(record_list(fixture_payload("bash-tool", "logs"), "logs")[0],
                          severityNumber=40000)
    record["attributes"] += [
        {"key": "cost_usd", "value": {"stringValue": "1e999999"}},
        {"key": "status_code", "value": {"intValue": 2 ** 40}},
        {"key": "attempt", "value": {"intValue": -(2 ** 33)}},
        {"key": "model", "value": {"stringValue": "m" * 5000}},
        {"key": "input_tokens", "value": {"stringValue": "9" * 30}},
    ]
    payload = fixture_payload("bash-tool", "logs")
    payload["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = [record]

    response = post(client, org, "logs", payload)

    assert response.status_code == 202
    assert response.get_json()["counts"]["logEvents"] == 1
    row = db.execute("SELECT cost_usd, status_code, attempt, model, input_tokens,"
                     "       severity_number FROM log_events WHERE org_id = %s",
                     (org.org.org_id,)).fetchone()
    assert row == (None, None, None, None, None, None)


def test_negative_usage_on_a_log_record_drops_the_figure_not_the_record(client, org,
                                                                         other_org, db):
    # Anyone holding an org's ingest token could otherwise make its spend go down.
    payload = fixture_payload("bash-tool", "logs")
    for record in record_list(payload, "logs"):
        names = {item["key"] for item in record["attributes"]}
        if "cost_usd" in names:
            record["attributes"] = [item for item in record["attributes"] if item["key"] not in
                                    {"cost_usd", "input_tokens", "duration_ms"}] + [
                {"key": "cost_usd", "value": {"doubleValue": -5.0}},
                {"key": "input_tokens", "value": {"stringValue": "-1000000"}},
                {"key": "duration_ms", "value": {"intValue": "-20"}}]

    response = post(client, org, "logs", payload)
    baseline = post(client, other_org, "logs", fixture_payload("bash-tool", "logs"))

    answer = response.get_json()
    assert answer["skipped"] == 0
    assert answer["counts"] == baseline.get_json()["counts"]
    costs = db.execute("SELECT cost_usd, input_tokens, duration_ms FROM log_events"
                       " WHERE org_id = %s AND event_name = 'api_request'",
                       (org.org.org_id,)).fetchall()
    assert costs and set(costs) == {(None, None, None)}
    (usage,) = analytics.usage(db, org.org.org_id, FROM, TO)
    assert usage["cost_usd"] >= 0 and usage["tokens"]["input"] >= 0


@pytest.mark.parametrize("monotonic", [True, False])
def test_a_negative_counter_point_is_skipped(client, org, other_org, db, monotonic):
    # Claude Code's usage metrics are counters, whatever isMonotonic a sender claims; the
    # OTLP data model allows no monotonic sum a negative value at all.
    payload = fixture_payload("bash-tool", "metrics")
    metrics = payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    (cost,) = [metric for metric in metrics if metric["name"] == "claude_code.cost.usage"]
    (point,) = cost["sum"]["dataPoints"]
    later = str(int(point["timeUnixNano"]) + 10**9)
    cost["sum"]["isMonotonic"] = monotonic
    cost["sum"]["dataPoints"].append(with_changes(point, timeUnixNano=later, asDouble=-5.0))
    metrics.append({"name": "queue.depth.change", "sum": {
        "isMonotonic": monotonic, "aggregationTemporality": 1,
        "dataPoints": [{"timeUnixNano": NOW, "asInt": "-3"}]}})

    response = post(client, org, "metrics", payload)
    baseline = post(client, other_org, "metrics", fixture_payload("bash-tool", "metrics"))

    good = baseline.get_json()["counts"]["metricPoints"] + (0 if monotonic else 1)
    assert_partial_success(response, "metrics", good, 2 if monotonic else 1)
    assert "negative" in response.get_json()["partialSuccess"]["errorMessage"]
    (usage,) = analytics.usage(db, org.org.org_id, FROM, TO)
    (expected,) = analytics.usage(db, other_org.org.org_id, FROM, TO)
    assert usage["cost_usd"] == expected["cost_usd"] > 0


def test_a_negative_gauge_of_a_claude_code_counter_is_skipped(client, org, other_org, db):
    # The accounting reads a gauge of Claude Code's usage metrics too.
    payload = fixture_payload("bash-tool", "metrics")
    payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].append(
        {"name": "claude_code.cost.usage", "gauge": {
            "dataPoints": [{"timeUnixNano": NOW, "asDouble": -500.0}]}})

    response = post(client, org, "metrics", payload)
    baseline = post(client, other_org, "metrics", fixture_payload("bash-tool", "metrics"))

    assert_partial_success(response, "metrics", baseline.get_json()["counts"]["metricPoints"], 1)
    (usage,) = analytics.usage(db, org.org.org_id, FROM, TO)
    (expected,) = analytics.usage(db, other_org.org.org_id, FROM, TO)
    assert usage["cost_usd"] == expected["cost_usd"] > 0


def incompressible(length: int) -> str:
    """Random CJK text: three UTF-8 bytes a character, which PostgreSQL cannot compress."""
    return "".join(chr(0x4E00 + secrets.randbelow(20000)) for _ in range(length))


def test_identifiers_too_long_to_index_do_not_fail_the_batch(client, org, db):
    payload = fixture_payload("bash-tool", "logs")
    target = record_list(payload, "logs")
    hostile = copy.deepcopy(target[0])
    # Shorter than the long-string content threshold, longer than a btree entry can hold.
    identifier = incompressible(1000)
    hostile["attributes"] = [
        pair for pair in hostile["attributes"] if pair["key"] not in ("session.id", "event.name")
    ] + [{"key": "session.id", "value": {"stringValue": identifier}},
         {"key": "event.name", "value": {"stringValue": identifier}},
         {"key": identifier, "value": {"stringValue": incompressible(2000)}}]
    target.append(hostile)
    metric_payload = fixture_payload("bash-tool", "metrics")
    metric_payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["name"] = identifier

    logs = post(client, org, "logs", payload)
    metrics = post(client, org, "metrics", metric_payload)

    assert logs.status_code == 202
    assert logs.get_json()["counts"]["logEvents"] == len(target)
    assert metrics.status_code == 202
    assert metrics.get_json()["skipped"] == 1
    assert stored(db, org.org.org_id, "metrics") == len(records(metric_payload, "metrics")) - 1


@pytest.mark.parametrize("field, column, value", [("kind", "kind", 40000),
                                                  ("status", "status_code", {"code": 70000})])
def test_span_enum_outside_its_column_is_stored_as_unspecified(client, org, db, field, column,
                                                               value):
    payload = fixture_payload("failing-bash", "traces")
    spans = records(payload, "traces")
    expected = {span["spanId"]: span["kind"] if field == "kind" else span["status"]["code"]
                for span in spans}
    spans[2][field] = value
    expected[spans[2]["spanId"]] = 0

    assert post(client, org, "traces", payload).status_code == 202

    stored_values = db.execute(f"SELECT span_id, {column} FROM spans WHERE org_id = %s",
                               (org.org.org_id,)).fetchall()
    assert dict(stored_values) == expected


BAD_ATTRIBUTES = [
    {"key": "nul", "value": {"stringValue": "a\u0000b"}},
    {"key": "surrogate", "value": {"stringValue": "caf\ud800"}},
    {"key": "key\udfff", "value": {"stringValue": "fine"}},
    {"key": "nan", "value": {"doubleValue": "NaN"}},
    {"key": "infinity", "value": {"doubleValue": float("inf")}},
    {"key": "buffer", "value": {"bytesValue": {"type": "Buffer", "data": [104, 105]}}},
    {"key": "not base64", "value": {"bytesValue": "@@@"}},
    {"key": "kvlist nul key", "value": {"kvlistValue": {"values": [
        {"key": "in\u0000ner", "value": {"stringValue": "x"}}]}}},
    {"key": "int with letters", "value": {"intValue": "12abc"}},
    {"key": "int too big", "value": {"intValue": str(2 ** 63)}},
    {"key": "huge int", "value": {"intValue": "HUGE"}},
    {"key": "not an object", "value": "plain"},
    {"key": "", "value": {"stringValue": "no key"}},
    {"value": {"stringValue": "missing key"}},
    "not a key-value",
]


def deeply_nested(levels: int) -> dict:
    value = {"stringValue": "bottom"}
    for _ in range(levels):
        value = {"arrayValue": {"values": [value]}}
    return value


def test_bad_attribute_is_dropped_and_its_record_kept(client, org, db):
    payload = fixture_payload("bash-tool", "logs")
    record = record_list(payload, "logs")[0]
    good_attributes = attributes(record)
    record["attributes"] = record["attributes"] + BAD_ATTRIBUTES + [
        {"key": "too deep", "value": deeply_nested(40)}]
    record["body"] = {"stringValue": "body\u0000with NUL"}
    body = body_of(payload).replace(b'"HUGE"', b"9" * 5000)

    response = post(client, org, "logs", body)

    assert response.status_code == 202
    assert response.get_json()["skipped"] == 0
    assert response.get_json()["counts"]["logEvents"] == len(records(payload, "logs"))
    stored_attributes = db.execute(
        "SELECT attributes FROM log_events WHERE org_id = %s AND event_sequence = 0",
        (org.org.org_id,)).fetchone()[0]
    assert stored_attributes == good_attributes


ANY_VALUES = {
    "string": ({"stringValue": "text ☕"}, "text ☕"),
    "empty string": ({"stringValue": ""}, ""),
    "true": ({"boolValue": True}, True),
    "false": ({"boolValue": False}, False),
    "int as number": ({"intValue": 42}, 42),
    "int as string": ({"intValue": "9007199254740993"}, 9007199254740993),
    "negative int": ({"intValue": "-9223372036854775808"}, -9223372036854775808),
    "double": ({"doubleValue": 1.5}, 1.5),
    "integral double": ({"doubleValue": 5}, 5),
    "double as string": ({"doubleValue": "2.25"}, 2.25),
    "array": ({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}, {}]}},
              ["a", 1, None]),
    "empty array": ({"arrayValue": {}}, []),
    "kvlist": ({"kvlistValue": {"values": [
        {"key": "a", "value": {"stringValue": "x"}},
        {"key": "n", "value": {"kvlistValue": {"values": [
            {"key": "deep", "value": {"boolValue": True}}]}}}]}},
        {"a": "x", "n": {"deep": True}}),
    "kvlist with an empty key": ({"kvlistValue": {"values": [
        {"key": "", "value": {"stringValue": "x"}},
        {"key": "msg", "value": {"stringValue": "hi"}}]}},
        {"": "x", "msg": "hi"}),
    "bytes": ({"bytesValue": "aGVsbG8="}, "aGVsbG8="),
    "empty value": ({}, None),
    "snake case": ({"string_value": "snake"}, "snake"),
    "snake case array": ({"array_value": {"values": [{"int_value": "7"}]}}, [7]),
}


def test_every_any_value_form_is_stored_as_its_json_value(client, org, db):
    payload = fixture_payload("bash-tool", "logs")
    record = record_list(payload, "logs")[0]
    record["attributes"] += [{"key": f"probe {name}", "value": value}
                             for name, (value, _) in ANY_VALUES.items()]

    assert post(client, org, "logs", payload).status_code == 202

    stored_attributes = db.execute(
        "SELECT attributes FROM log_events WHERE org_id = %s AND event_sequence = 0",
        (org.org.org_id,)).fetchone()[0]
    for name, (_, expected) in ANY_VALUES.items():
        assert stored_attributes[f"probe {name}"] == expected, name


def snake_case_keys(value):
    """The request with every field name in its proto (snake_case) spelling."""
    if isinstance(value, dict):
        return {re.sub("[A-Z]", lambda match: "_" + match[0].lower(), key): snake_case_keys(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [snake_case_keys(item) for item in value]
    return value


INTEGER_FIELDS = ("timeUnixNano", "observedTimeUnixNano", "startTimeUnixNano",
                  "endTimeUnixNano", "intValue", "asInt", "count", "flags")


def swapped_integer_forms(value):
    """The request with 64-bit integers as numbers where sent as strings, and vice versa."""
    if isinstance(value, dict):
        return {key: (str(item) if isinstance(item, int) and not isinstance(item, bool)
                      else int(item) if isinstance(item, str) else item)
                if key in INTEGER_FIELDS else swapped_integer_forms(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [swapped_integer_forms(item) for item in value]
    return value


def upper_case_ids(value):
    if isinstance(value, dict):
        return {key: item.upper() if key in ("traceId", "spanId", "parentSpanId")
                else upper_case_ids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [upper_case_ids(item) for item in value]
    return value


ENUM_NAMES = {
    "kind": ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
             "SPAN_KIND_CLIENT"],
    "code": ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"],
    "aggregationTemporality": ["AGGREGATION_TEMPORALITY_UNSPECIFIED",
                               "AGGREGATION_TEMPORALITY_DELTA",
                               "AGGREGATION_TEMPORALITY_CUMULATIVE"],
}


def enum_names(value):
    """The request with span kinds, status codes and temporalities sent by name."""
    if isinstance(value, dict):
        return {key: ENUM_NAMES[key][item] if key in ENUM_NAMES and isinstance(item, int)
                else enum_names(item) for key, item in value.items()}
    if isinstance(value, list):
        return [enum_names(item) for item in value]
    return value


def with_unknown_fields(value):
    """The request with an unknown field, of several JSON types, in every message."""
    if isinstance(value, dict):
        extended = {key: with_unknown_fields(item) for key, item in value.items()}
        extended.update(futureField={"nested": [1, "two"]}, futureUrl="https://x",
                        droppedLinksCount=0, anotherOne=None)
        return extended
    if isinstance(value, list):
        return [with_unknown_fields(item) for item in value]
    return value


SPELLINGS = {
    "snake_case keys": snake_case_keys,
    "integers swapped between strings and numbers": swapped_integer_forms,
    "upper-case hex ids": upper_case_ids,
    "enums by name": enum_names,
    "unknown fields": with_unknown_fields,
}


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_allowed_otlp_json_spelling_stores_the_same_records(client, org, db,
                                                                   spelling, signal):
    # The same records spelled another way are the same records: all duplicates.
    payload = fixture_payload("write-tool-resource-attrs", signal)

    plain_answer = post(client, org, signal, payload).get_json()
    stored = record_ids(db, org.org.org_id, signal)
    spelled = post(client, org, signal, SPELLINGS[spelling](payload))

    assert spelled.status_code == 202
    count = len(records(payload, signal))
    assert plain_answer["counts"][COUNT_NAMES[signal]] == count and len(stored) == count
    assert spelled.get_json() == {**plain_answer, "duplicates": count}
    assert record_ids(db, org.org.org_id, signal) == stored


def test_hex_ids_are_stored_lower_case(client, org, db):
    payload = fixture_payload("bash-tool", "traces")
    spans = records(payload, "traces")

    assert post(client, org, "traces", upper_case_ids(payload)).status_code == 202

    stored_ids = db.execute("SELECT trace_id, span_id, parent_span_id FROM spans"
                            " WHERE org_id = %s", (org.org.org_id,)).fetchall()
    assert sorted(stored_ids, key=str) == sorted(
        ((span["traceId"], span["spanId"], span.get("parentSpanId") or None) for span in spans),
        key=str)


def test_enums_by_integer_and_by_name_store_the_same_numbers(client, org, db):
    payload = fixture_payload("failing-bash", "traces")

    assert post(client, org, "traces", enum_names(payload)).status_code == 202

    stored_enums = db.execute("SELECT span_id, kind, status_code FROM spans WHERE org_id = %s",
                              (org.org.org_id,)).fetchall()
    assert sorted(stored_enums) == sorted(
        (span["spanId"], span["kind"], span["status"]["code"])
        for span in records(payload, "traces"))


def test_records_differing_only_in_event_sequence_are_both_stored(client, org, db):
    payload = fixture_payload("bash-tool", "logs")
    target = record_list(payload, "logs")
    twin = copy.deepcopy(target[-1])
    for pair in twin["attributes"]:
        if pair["key"] == "event.sequence":
            pair["value"] = {"intValue": pair["value"]["intValue"] + 1000}
    target.append(twin)

    response = post(client, org, "logs", payload)

    assert response.get_json()["counts"]["logEvents"] == len(target)
    assert response.get_json()["duplicates"] == 0
    assert stored(db, org.org.org_id, "logs") == len(target)


def second_process(payload: dict, signal: str, offset_nanos: int) -> dict:
    """What a second Claude Code process resuming the same session sends: the same session
    id and event sequence numbers, its own clock, its own span ids."""
    resumed = copy.deepcopy(payload)
    for record in records(resumed, signal):
        for field in ("timeUnixNano", "observedTimeUnixNano", "startTimeUnixNano",
                      "endTimeUnixNano"):
            if field in record:
                record[field] = str(int(record[field]) + offset_nanos)
        for field in ("spanId", "parentSpanId"):
            if record.get(field):
                record[field] = record[field][::-1]
    return resumed


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
def test_two_processes_sharing_a_session_id_are_never_merged(client, org, db, signal):
    first = fixture_payload("bash-tool", signal)
    second = second_process(first, signal, offset_nanos=1_000_000)
    count = len(records(first, signal))

    answers = [post(client, org, signal, payload).get_json() for payload in (first, second)]

    assert [answer["duplicates"] for answer in answers] == [0, 0]
    assert stored(db, org.org.org_id, signal) == 2 * count
    sessions = db.execute("SELECT session_id FROM sessions WHERE org_id = %s",
                          (org.org.org_id,)).fetchall()
    assert len(sessions) == 1
