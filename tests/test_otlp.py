"""The OTLP/JSON decoder, fed payloads shaped like Claude Code 2.1.328's exports."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from mojule.otlp import (
    LogRecord,
    Malformed,
    MetricPoint,
    Skipped,
    Span,
    Unstorable,
    decode_any_value,
    decode_attributes,
    iter_logs,
    iter_metric_points,
    iter_spans,
)

TRACE_ID = "051ac568c9c07d2480dc624a215ea522"
SPAN_ID = "e55557c04c6841e2"
PARENT_ID = "10dbda2e63d770cc"
SESSION_ID = "8cce18b6-cecc-4f9e-abf4-b727289d5d38"
T0 = 1795695270080000000


def kv(key: str, value: Any) -> dict:
    return {"key": key, "value": value}


def text(value: str) -> dict:
    return {"stringValue": value}


def standard_attributes() -> list[dict]:
    return [
        kv("user.id", text("106316defa0e7ba26537f2f4f95ee21cddfa9d216aa01da5ebe11b6328282438")),
        kv("session.id", text(SESSION_ID)),
        kv("anthropic.provider", text("firstParty")),
        kv("anthropic.custom_base_url", {"boolValue": True}),
        kv("terminal.type", text("dumb")),
    ]


def resource(*extra: dict) -> dict:
    return {
        "attributes": [
            kv("host.arch", text("amd64")),
            kv("os.type", text("linux")),
            kv("service.name", text("claude-code")),
            kv("service.version", text("2.1.328")),
            *extra,
        ],
        "droppedAttributesCount": 0,
    }


def snake_case(value: Any) -> Any:
    """Return value with every object key spelled in snake_case."""
    if isinstance(value, dict):
        return {re.sub("[A-Z]", lambda m: "_" + m[0].lower(), key): snake_case(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [snake_case(item) for item in value]
    return value


# Logs ---------------------------------------------------------------------------------


def log_record(*extra_attributes: dict, **fields: Any) -> dict:
    """Return an api_request event as Claude Code sends it, with fields replaced."""
    record = {
        "timeUnixNano": str(T0),
        "observedTimeUnixNano": str(T0),
        "body": text("claude_code.api_request"),
        "attributes": [
            *standard_attributes(),
            kv("event.name", text("api_request")),
            kv("event.timestamp", text("2026-11-26T12:14:30.080Z")),
            kv("event.sequence", {"intValue": 4}),
            kv("model", text("claude-opus-5-5")),
            kv("cost_usd", {"doubleValue": 0.00844}),
            kv("input_tokens", {"intValue": 1500}),
            kv("managed_settings.sources", {"arrayValue": {"values": []}}),
            *extra_attributes,
        ],
        "droppedAttributesCount": 0,
        "flags": 1,
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
    }
    record.update(fields)
    return record


def logs_request(*records: Any, resource_: Any = None, scope: Any = None) -> dict:
    return {"resourceLogs": [{
        "resource": resource() if resource_ is None else resource_,
        "scopeLogs": [{
            "scope": scope or {"name": "com.anthropic.claude_code.events", "version": "2.1.328"},
            "logRecords": list(records),
        }],
    }]}


def decode_log(record: Any) -> LogRecord | Skipped:
    (decoded,) = iter_logs(logs_request(record))
    return decoded


def attribute(value: Any) -> LogRecord:
    """Return the log record decoded with one extra attribute "probe" holding value."""
    decoded = decode_log(log_record(kv("probe", value)))
    assert isinstance(decoded, LogRecord)
    return decoded


def test_claude_code_event_decodes_to_a_flat_record():
    decoded = decode_log(log_record())

    assert decoded.resource == {"host.arch": "amd64", "os.type": "linux",
                                "service.name": "claude-code", "service.version": "2.1.328"}
    assert (decoded.scope_name, decoded.scope_version) == (
        "com.anthropic.claude_code.events", "2.1.328")
    assert decoded.time_unix_nano == decoded.observed_time_unix_nano == T0
    assert (decoded.severity_number, decoded.severity_text) == (0, "")
    assert decoded.body == "claude_code.api_request"
    assert decoded.attributes["session.id"] == SESSION_ID
    assert decoded.attributes["anthropic.custom_base_url"] is True
    assert decoded.attributes["event.sequence"] == 4
    assert decoded.attributes["cost_usd"] == 0.00844
    assert decoded.attributes["managed_settings.sources"] == []
    assert decoded.dropped_attributes == 0
    assert (decoded.trace_id, decoded.span_id, decoded.flags) == (TRACE_ID, SPAN_ID, 1)
    assert decoded.event_name == ""
    assert isinstance(decoded.identity, bytes) and len(decoded.identity) == 16


def test_records_of_one_resource_share_its_attribute_dict():
    first, second = iter_logs(logs_request(log_record(), log_record(timeUnixNano=str(T0 + 1))))

    assert first.resource is second.resource


def test_time_falls_back_to_observed_time():
    decoded = decode_log(log_record(timeUnixNano="0", observedTimeUnixNano=str(T0)))

    assert decoded.time_unix_nano == T0


def test_log_without_any_time_is_skipped():
    record = log_record()
    del record["timeUnixNano"], record["observedTimeUnixNano"]

    assert decode_log(record) == Skipped("log record has no timeUnixNano")


def test_integers_accept_json_numbers_and_decimal_strings():
    as_strings = decode_log(log_record(kv("n", {"intValue": "10"}), timeUnixNano=str(T0)))
    as_numbers = decode_log(log_record(kv("n", {"intValue": 10}), timeUnixNano=T0))
    as_integral_float = decode_log(log_record(kv("n", {"intValue": 10.0})))

    assert as_strings.time_unix_nano == as_numbers.time_unix_nano == T0
    assert as_strings.attributes["n"] == as_numbers.attributes["n"] == 10
    assert as_integral_float.attributes["n"] == 10
    assert type(as_integral_float.attributes["n"]) is int
    assert as_strings.identity == as_numbers.identity


@pytest.mark.parametrize("text, number", [
    ("1e2", 100), ("1.5E1", 15), ("-2e+3", -2000), ("120e-1", 12), ("9.2e18", 92 * 10**17),
    ("0e100", 0), ("0.0e-999999", 0),
])
def test_integers_accept_exponent_notation_as_protojson_does(text, number):
    assert attribute({"intValue": text}).attributes["probe"] == number
    assert decode_log(log_record(timeUnixNano="1.7e18")).time_unix_nano == 17 * 10**17


@pytest.mark.parametrize("bad", [
    "1e+21", 1e21, "", "1.5", 1.5, " 12", "0x10", "1_000", "+-1", "١٢", True, [], {},
    str(2**63), -(2**63) - 1, "1.05e1", "1e-2", "1e999999999", "01e2", "NaN", "Infinity",
    "1e9999999999999999999", "1e999999", "1e-999999",
])
def test_bad_integer_drops_int_attribute(bad):
    decoded = attribute({"intValue": bad})

    assert "probe" not in decoded.attributes
    assert decoded.dropped_attributes == 1


def test_huge_digit_string_is_malformed_not_a_crash():
    # int() refuses strings over 4300 digits with a ValueError of its own.
    assert "probe" not in attribute({"intValue": "9" * 5000}).attributes


def test_int_attribute_keeps_the_whole_int64_range():
    low = attribute({"intValue": str(-(2**63))})
    high = attribute({"intValue": str(2**63 - 1)})

    assert (low.attributes["probe"], high.attributes["probe"]) == (-(2**63), 2**63 - 1)


@pytest.mark.parametrize("bad", ["1e+21", "", "-1", str(2**63), 1.5, True, "0x10", {}, "1e9999999999999999999"])
def test_bad_timestamp_skips_record(bad):
    assert decode_log(log_record(timeUnixNano=bad)) == Skipped("invalid timeUnixNano")


def test_double_type_comes_from_the_key_not_the_json_type():
    integral = attribute({"doubleValue": 5}).attributes["probe"]
    quoted = attribute({"doubleValue": "1.5"}).attributes["probe"]
    integer = attribute({"intValue": 5}).attributes["probe"]

    assert (integral, type(integral)) == (5.0, float)
    assert quoted == 1.5
    assert type(integer) is int


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", float("nan"), float("inf")])
def test_non_finite_double_attribute_is_dropped(bad):
    decoded = attribute({"doubleValue": bad})

    assert "probe" not in decoded.attributes
    assert decoded.dropped_attributes == 1


@pytest.mark.parametrize("empty", [{}, None, {"stringValue": None}, {"futureValue": 1}])
def test_empty_any_value_decodes_to_none(empty):
    decoded = attribute(empty)

    assert decoded.attributes["probe"] is None
    assert decoded.dropped_attributes == 0


def test_attribute_without_value_decodes_to_none():
    decoded = decode_log(log_record({"key": "probe"}))

    assert decoded.attributes["probe"] is None


def test_claude_desktop_empty_double_value_drops_attribute():
    decoded = attribute({"doubleValue": {}})

    assert "probe" not in decoded.attributes
    assert decoded.dropped_attributes == 1


@pytest.mark.parametrize("bad", ["true", 1, 0, {}])
def test_bool_value_accepts_only_json_booleans(bad):
    assert attribute({"boolValue": False}).attributes["probe"] is False
    assert "probe" not in attribute({"boolValue": bad}).attributes


@pytest.mark.parametrize("buffer", [
    {"type": "Buffer", "data": [104, 105]}, {"0": 104, "1": 105}, [104, 105],
])
def test_javascript_buffer_bytes_value_drops_attribute(buffer):
    decoded = attribute({"bytesValue": buffer})

    assert "probe" not in decoded.attributes
    assert decoded.dropped_attributes == 1


@pytest.mark.parametrize("encoded", ["aGk/Pz4+", "aGk_Pz4-", "aGk", "aGk=", ""])
def test_base64_bytes_value_is_kept_as_sent(encoded):
    assert attribute({"bytesValue": encoded}).attributes["probe"] == encoded


@pytest.mark.parametrize("bad", ["not base64!", "a", "aGk==x", "é"])
def test_invalid_base64_bytes_value_drops_attribute(bad):
    assert "probe" not in attribute({"bytesValue": bad}).attributes


def test_array_and_kvlist_values_decode_to_list_and_dict():
    value = {"kvlistValue": {"values": [
        kv("finish_reasons", {"arrayValue": {"values": [text("tool_use"), {}]}}),
        kv("nothing", {"arrayValue": {}}),
        kv("nested", {"kvlistValue": {"values": [kv("n", {"intValue": "3"})]}}),
    ]}}

    assert decode_any_value(value) == {
        "finish_reasons": ["tool_use", None], "nothing": [], "nested": {"n": 3}}


def test_kvlist_keeps_an_empty_key_an_attribute_may_not_have():
    # The Collector's filelog json_parser turns {"": "x", "msg": "hi"} into this body.
    body = {"kvlistValue": {"values": [kv("", text("x")), kv("msg", text("hi"))]}}

    decoded = decode_log(log_record(kv("", text("dropped")), kv("map", body), body=body))
    assert decoded.body == {"": "x", "msg": "hi"}
    assert decoded.attributes["map"] == {"": "x", "msg": "hi"}
    assert "" not in decoded.attributes and decoded.dropped_attributes == 1


def nested(levels: int) -> dict:
    """Return an AnyValue that is levels deep: arrays around one string."""
    value = text("bottom")
    for _ in range(levels - 1):
        value = {"arrayValue": {"values": [value]}}
    return value


def test_values_nested_32_deep_are_kept_and_deeper_ones_dropped():
    assert attribute(nested(32)).attributes["probe"] is not None
    assert "probe" not in attribute(nested(33)).attributes
    with pytest.raises(Malformed):
        decode_any_value(nested(1000))


@pytest.mark.parametrize("entry", [
    kv("pro\x00be", text("ok")),
    kv("probe", {"kvlistValue": {"values": [kv("k\x00", text("ok"))]}}),
])
def test_nul_in_a_key_drops_the_attribute(entry):
    decoded = decode_log(log_record(entry))

    assert not {"probe", "pro\x00be"} & decoded.attributes.keys()
    assert decoded.dropped_attributes == 1


@pytest.mark.parametrize("sent, kept", [
    (text("a\x00b"), "a\x00b"),
    (text("caf\ud800"), "caf\ufffd"),
    (text("\x00\udfff"), "\x00\ufffd"),
    ({"arrayValue": {"values": [text("ok"), text("\udfff")]}}, ["ok", "\ufffd"]),
])
def test_nul_or_lone_surrogate_in_a_value_is_kept_marked_unstorable(sent, kept):
    # The decoder cannot tell content from usage: it keeps the value, with a lone surrogate
    # (which UTF-8 cannot encode) as U+FFFD, and marks the text PostgreSQL would refuse.
    decoded = decode_log(log_record(kv("probe", sent)))

    value = decoded.attributes["probe"]
    assert value == kept
    unstorable = value if isinstance(value, str) else value[1]
    assert type(unstorable) is Unstorable
    assert decoded.dropped_attributes == 0


def test_non_ascii_text_is_kept():
    assert attribute(text("café ☕ 𝄞")).attributes["probe"] == "café ☕ 𝄞"


def test_log_body_with_a_nul_is_kept_marked_unstorable():
    decoded = decode_log(log_record(body=text("output\x00")))

    assert decoded.body == "output\x00" and type(decoded.body) is Unstorable


@pytest.mark.parametrize("body", [{"doubleValue": "NaN"}, "plain"])
def test_bad_log_body_becomes_none_and_counts_as_dropped(body):
    decoded = decode_log(log_record(body=body))

    assert decoded.body is None
    assert decoded.dropped_attributes == 1


def test_bad_attribute_drops_attribute_not_record():
    decoded = decode_log(log_record(
        kv("bad_double", {"doubleValue": {}}),
        kv("bad_bytes", {"bytesValue": {"type": "Buffer", "data": []}}),
        kv("good", text("kept")),
        droppedAttributesCount=2,
    ))

    assert decoded.attributes["good"] == "kept"
    assert decoded.attributes["model"] == "claude-opus-5-5"
    assert decoded.dropped_attributes == 4


@pytest.mark.parametrize("entry", [
    "probe", ["probe", text("x")], {"value": text("x")}, {"key": 5, "value": text("x")},
    {"key": "", "value": text("x")}, {"key": None, "value": text("x")},
])
def test_attribute_entries_without_a_usable_key_are_dropped(entry):
    attributes, dropped = decode_attributes([entry, kv("good", text("kept"))])

    assert (attributes, dropped) == ({"good": "kept"}, 1)


def test_duplicate_attribute_keys_keep_the_last():
    attributes, dropped = decode_attributes(
        [kv("model", text("first")), kv("model", text("last"))])

    assert (attributes, dropped) == ({"model": "last"}, 0)


def test_attributes_that_are_not_a_list_skip_the_record():
    assert decode_log(log_record(attributes={"model": "x"})) == Skipped(
        "attributes is not a list")


def test_null_attributes_are_empty():
    assert decode_attributes(None) == ({}, 0)
    assert decode_log(log_record(attributes=None)).attributes == {}


def test_trace_and_span_ids_are_lowercased():
    decoded = decode_log(log_record(traceId=TRACE_ID.upper(), spanId=SPAN_ID.upper()))

    assert (decoded.trace_id, decoded.span_id) == (TRACE_ID, SPAN_ID)


@pytest.mark.parametrize("bad", ["", None, "0" * 32, TRACE_ID[:-1], "g" * 32, 123, TRACE_ID + "0"])
def test_invalid_log_trace_id_is_nulled_and_record_kept(bad):
    decoded = decode_log(log_record(traceId=bad, spanId="0" * 16))

    assert (decoded.trace_id, decoded.span_id) == (None, None)
    assert decoded.attributes["session.id"] == SESSION_ID


@pytest.mark.parametrize(("sent", "number"), [
    (9, 9), ("9", 9), ("SEVERITY_NUMBER_INFO", 9), ("SEVERITY_NUMBER_WARN2", 14),
    ("SEVERITY_NUMBER_TRACE", 1), ("SEVERITY_NUMBER_FATAL4", 24), (42, 42),
    ("SEVERITY_NUMBER_LOUD", 0), ({}, 0), (2**40, 0), (None, 0),
])
def test_severity_number_accepts_integers_and_enum_names(sent, number):
    assert decode_log(log_record(severityNumber=sent)).severity_number == number


def test_otlp_event_name_and_severity_text_are_read():
    decoded = decode_log(log_record(eventName="claude_code.api_request", severityText="INFO"))

    assert (decoded.event_name, decoded.severity_text) == ("claude_code.api_request", "INFO")


def test_unstorable_severity_text_skips_record():
    assert decode_log(log_record(severityText="IN\x00FO")) == Skipped("invalid severityText")


def test_log_identity_is_equal_for_identical_records_and_retries():
    request = logs_request(log_record(), log_record())
    first, second = iter_logs(request)
    (retried, _) = iter_logs(copy.deepcopy(request))

    assert first.identity == second.identity == retried.identity


@pytest.mark.parametrize("change", [
    lambda r: r["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"][6].update(
        value={"intValue": 5}),
    lambda r: r["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0].update(
        timeUnixNano=str(T0 + 1)),
    lambda r: r["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0].update(
        observedTimeUnixNano=str(T0 + 1)),
    lambda r: r["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0].update(body=text("x")),
    lambda r: r["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0].update(spanId=PARENT_ID),
    lambda r: r["resourceLogs"][0]["resource"]["attributes"][0].update(value=text("arm64")),
    lambda r: r["resourceLogs"][0]["scopeLogs"][0]["scope"].update(version="2.1.329"),
    lambda r: r["resourceLogs"][0]["scopeLogs"][0]["scope"].update(name="other"),
])
def test_log_identity_changes_when_anything_differs(change):
    request = logs_request(log_record())
    changed = copy.deepcopy(request)
    change(changed)

    (original,) = iter_logs(request)
    (different,) = iter_logs(changed)
    assert original.identity != different.identity


def test_unknown_fields_are_ignored():
    request = logs_request(log_record(futureField={"a": [1]}, schemaUrl="x"))
    request["futureTopLevel"] = 1
    request["resourceLogs"][0]["scopeLogs"][0]["scope"]["attributes"] = []

    (decoded,) = iter_logs(request)
    assert decoded == decode_log(log_record())


def test_resource_and_scope_fields_without_a_column_are_kept_and_identify_records():
    request = logs_request(log_record())
    request["resourceLogs"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.0.0"
    request["resourceLogs"][0]["resource"]["droppedAttributesCount"] = 2
    scope_entry = request["resourceLogs"][0]["scopeLogs"][0]
    scope_entry["schema_url"] = "https://opentelemetry.io/schemas/1.1.0"
    scope_entry["scope"]["attributes"] = [kv("library.kind", text("exporter")),
                                          kv("bad", {"intValue": "x"})]

    (decoded,) = iter_logs(request)
    (plain,) = iter_logs(logs_request(log_record()))

    assert decoded.scope_extra == {
        "resource_schema_url": "https://opentelemetry.io/schemas/1.0.0",
        "resource_dropped_attributes": 2,
        "scope_schema_url": "https://opentelemetry.io/schemas/1.1.0",
        "scope_attributes": {"library.kind": "exporter"}, "scope_dropped_attributes": 1}
    assert plain.scope_extra == {} and decoded.identity != plain.identity


# Requests and containers --------------------------------------------------------------


@pytest.mark.parametrize("decode", [iter_logs, iter_metric_points, iter_spans])
@pytest.mark.parametrize("payload", [[], "x", None, 5])
def test_payload_that_is_not_an_object_raises_before_iterating(decode, payload):
    with pytest.raises(Malformed, match="request body is not a JSON object"):
        decode(payload)


@pytest.mark.parametrize("decode", [iter_logs, iter_metric_points, iter_spans])
def test_missing_or_null_top_level_list_yields_nothing(decode):
    assert list(decode({})) == []
    assert list(decode({"resourceLogs": None, "resourceMetrics": None,
                        "resourceSpans": None})) == []


def test_top_level_value_that_is_not_a_list_raises():
    with pytest.raises(Malformed, match="resourceLogs is not a list"):
        iter_logs({"resourceLogs": {"resource": {}}})


@pytest.mark.parametrize(("request_", "reason"), [
    ({"resourceLogs": [5]}, "resource entry is not an object"),
    ({"resourceLogs": [{"resource": "x", "scopeLogs": []}]}, "resource is not an object"),
    ({"resourceLogs": [{"resource": {"attributes": {}}}]}, "attributes is not a list"),
    ({"resourceLogs": [{"scopeLogs": "x"}]}, "scopeLogs is not a list"),
    ({"resourceLogs": [{"scopeLogs": [5]}]}, "scope entry is not an object"),
    ({"resourceLogs": [{"scopeLogs": [{"scope": 5, "logRecords": []}]}]},
     "scope is not an object"),
    ({"resourceLogs": [{"scopeLogs": [{"scope": {"name": 5}}]}]}, "invalid name"),
    ({"resourceLogs": [{"scopeLogs": [{"logRecords": {}}]}]}, "logRecords is not a list"),
])
def test_malformed_container_entry_yields_one_skipped(request_, reason):
    request_["resourceLogs"].append(logs_request(log_record())["resourceLogs"][0])

    first, second = iter_logs(request_)
    assert first == Skipped(reason)
    assert isinstance(second, LogRecord)


def test_record_that_is_not_an_object_is_skipped_alone():
    decoded = list(iter_logs(logs_request(log_record(), "x", None, log_record())))

    assert [type(item) for item in decoded] == [LogRecord, Skipped, Skipped, LogRecord]
    assert decoded[1] == Skipped("log record is not an object")


def test_missing_resource_and_scope_are_empty():
    request = {"resourceLogs": [{"scopeLogs": [{"logRecords": [log_record()]}]}]}

    (decoded,) = iter_logs(request)
    assert (decoded.resource, decoded.scope_name, decoded.scope_version) == ({}, "", "")


# Metrics ------------------------------------------------------------------------------


def data_point(*extra_attributes: dict, **fields: Any) -> dict:
    """Return a token.usage point as Claude Code sends it, with fields replaced."""
    point = {
        "attributes": [
            *standard_attributes(),
            kv("model", text("claude-opus-5-5")),
            kv("type", text("input")),
            *extra_attributes,
        ],
        "startTimeUnixNano": str(T0 + 360_000_000),
        "timeUnixNano": str(T0 + 468_000_000),
        "asDouble": 3000,
    }
    point.update(fields)
    return point


def metric(*points: Any, kind: str = "sum", **fields: Any) -> dict:
    data = {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": list(points)}
    found = {"name": "claude_code.token.usage", "description": "Number of tokens used",
             "unit": "tokens", kind: data}
    found.update(fields)
    return found


def metrics_request(*metrics: Any, resource_: Any = None) -> dict:
    return {"resourceMetrics": [{
        "resource": resource() if resource_ is None else resource_,
        "scopeMetrics": [{
            "scope": {"name": "com.anthropic.claude_code", "version": "2.1.328"},
            "metrics": list(metrics),
        }],
    }]}


def decode_point(point: Any, **metric_fields: Any) -> MetricPoint | Skipped:
    (decoded,) = iter_metric_points(metrics_request(metric(point, **metric_fields)))
    return decoded


def test_claude_code_sum_point_decodes():
    decoded = decode_point(data_point())

    assert decoded.metric_name == "claude_code.token.usage"
    assert (decoded.unit, decoded.kind, decoded.temporality) == ("tokens", "sum", 1)
    assert decoded.is_monotonic is True
    assert decoded.start_time_unix_nano == T0 + 360_000_000
    assert decoded.time_unix_nano == T0 + 468_000_000
    assert (decoded.value, type(decoded.value)) == (3000.0, float)
    assert decoded.distribution is None
    assert decoded.attributes["type"] == "input"
    assert decoded.resource["service.name"] == "claude-code"
    assert (decoded.scope_name, decoded.flags, decoded.dropped_attributes) == (
        "com.anthropic.claude_code", 0, 0)
    assert len(decoded.series_hash) == len(decoded.identity) == 16


@pytest.mark.parametrize("sent", [5, "5", 5.0])
def test_as_int_point_value_stays_int(sent):
    point = data_point(asInt=sent)
    del point["asDouble"]

    decoded = decode_point(point)
    assert (decoded.value, type(decoded.value)) == (5, int)


def test_as_int_zero_is_a_real_value():
    point = data_point(asInt="0")
    del point["asDouble"]

    assert decode_point(point).value == 0


def test_point_with_no_recorded_value_flag_keeps_no_value():
    # A staleness marker's value fields mean nothing, and it may have none.
    marker = decode_point(data_point(flags=1))
    bare = data_point(flags=1)
    del bare["asDouble"]

    assert isinstance(marker, MetricPoint) and marker.value is None and marker.flags == 1
    assert decode_point(bare).value is None
    assert decode_point(data_point(flags=2)).value == 3000


def test_point_without_a_value_is_skipped():
    assert decode_point(data_point(asDouble=None)) == Skipped("data point has no value")


@pytest.mark.parametrize("bad, reason", [
    (float("nan"), "asDouble is not a finite number"), ({}, "asDouble is not a finite number"),
    (True, "asDouble is not a finite number"), ("", "asDouble is not a number"),
    ("many", "asDouble is not a number")])
def test_garbage_point_value_or_a_bare_nan_is_skipped(bad, reason):
    # A bare NaN comes only from a non-standard JSON writer: ProtoJSON writes "NaN".
    assert decode_point(data_point(asDouble=bad)) == Skipped(reason)


@pytest.mark.parametrize("sent, kept", [("NaN", "NaN"), ("Infinity", "Infinity"),
                                        ("+Inf", "Infinity"), ("-Infinity", "-Infinity")])
def test_a_non_finite_point_value_is_kept_as_sent_but_as_no_value(sent, kept):
    # ProtoJSON's spellings, and the Collector's: a Prometheus gauge can be NaN.
    point = decode_point(data_point(asDouble=sent))

    assert (point.value, point.value_not_finite) == (None, kept)
    assert point.identity != decode_point(data_point(asDouble="-Inf" if kept != "-Infinity"
                                                     else "NaN")).identity


def test_point_without_time_is_skipped():
    assert decode_point(data_point(timeUnixNano="0")) == Skipped(
        "data point has no timeUnixNano")


def test_metric_without_a_name_skips_each_of_its_points():
    decoded = list(iter_metric_points(metrics_request(
        metric(data_point(), data_point(), name=""),
        metric(data_point()),
    )))

    assert decoded[:2] == [Skipped("metric has no name")] * 2
    assert isinstance(decoded[2], MetricPoint)


def test_unstorable_metric_name_skips_each_of_its_points():
    decoded = list(iter_metric_points(metrics_request(
        metric(data_point(), data_point(), name="claude_code.\x00"))))

    assert decoded == [Skipped("invalid name")] * 2


def test_metric_without_known_data_yields_nothing():
    request = metrics_request({"name": "claude_code.future", "unit": "", "futureKind": {}})

    assert list(iter_metric_points(request)) == []


def test_gauge_has_no_temporality_and_is_not_monotonic():
    decoded = decode_point(data_point(), kind="gauge")

    assert (decoded.kind, decoded.temporality, decoded.is_monotonic) == ("gauge", 0, False)


@pytest.mark.parametrize(("sent", "temporality"), [
    ("AGGREGATION_TEMPORALITY_CUMULATIVE", 2), ("AGGREGATION_TEMPORALITY_DELTA", 1),
    (2, 2), (None, 0), ("sideways", 0),
])
def test_temporality_accepts_integers_and_enum_names(sent, temporality):
    found = metric(data_point())
    found["sum"]["aggregationTemporality"] = sent

    (decoded,) = iter_metric_points(metrics_request(found))
    assert decoded.temporality == temporality


def test_series_hash_ignores_attribute_order_and_int_or_double_form():
    as_int = data_point(kv("weight", {"intValue": 5}))
    as_double = data_point(kv("weight", {"doubleValue": 5.0}))
    as_double["attributes"].reverse()

    first, second = (decode_point(as_int), decode_point(as_double))
    assert first.series_hash == second.series_hash
    assert first.identity == second.identity


def point_with(change) -> MetricPoint:
    request = metrics_request(metric(data_point()))
    change(request)
    (decoded,) = iter_metric_points(request)
    return decoded


def first_metric(request: dict) -> dict:
    return request["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]


@pytest.mark.parametrize("change", [
    lambda r: first_metric(r)["sum"]["dataPoints"][0]["attributes"][-1].update(
        value=text("output")),
    lambda r: first_metric(r).update(name="claude_code.cost.usage"),
    lambda r: first_metric(r).update(unit="USD"),
    lambda r: first_metric(r)["sum"].update(aggregationTemporality=2),
    lambda r: first_metric(r)["sum"].update(isMonotonic=False),
    lambda r: first_metric(r).update(gauge=first_metric(r).pop("sum")),
    lambda r: r["resourceMetrics"][0]["resource"]["attributes"].append(
        kv("department", text("platform"))),
    lambda r: r["resourceMetrics"][0]["scopeMetrics"][0]["scope"].update(version="2"),
])
def test_series_hash_changes_with_the_series_identity(change):
    assert point_with(change).series_hash != point_with(lambda r: None).series_hash


def test_description_is_not_part_of_the_series():
    original = point_with(lambda r: None)
    changed = point_with(lambda request: first_metric(request).update(description="other"))

    assert (changed.series_hash, changed.identity) == (original.series_hash, original.identity)


def test_metric_metadata_is_kept_and_not_part_of_the_series():
    original = point_with(lambda r: None)
    metadata = [kv("prometheus.type", text("histogram")), kv("", text("no key")), 5]
    changed = point_with(lambda request: first_metric(request).update(metadata=metadata))

    assert (changed.metadata, changed.metadata_dropped_attributes) == (
        {"prometheus.type": "histogram"}, 2)
    assert (original.metadata, original.metadata_dropped_attributes) == ({}, 0)
    assert (changed.series_hash, changed.identity) == (original.series_hash, original.identity)
    # Metadata that is not a list costs itself, counted, and no point.
    bad = point_with(lambda request: first_metric(request).update(metadata={"a": 1}))
    assert (bad.metadata, bad.metadata_dropped_attributes) == ({}, 1)


def test_value_separates_points_of_one_series_and_window():
    # Two processes sharing a session id can report one series and window with different
    # values; both must be stored, so the value is part of the point's identity.
    def change(request: dict) -> None:
        first_metric(request)["sum"]["dataPoints"][0]["asDouble"] = 7

    original = point_with(lambda r: None)
    changed = point_with(change)

    assert changed.series_hash == original.series_hash
    assert changed.identity != original.identity


def test_identity_separates_the_windows_of_one_series():
    first = decode_point(data_point())
    later = decode_point(data_point(startTimeUnixNano=str(T0 + 468_000_000),
                                    timeUnixNano=str(T0 + 60_468_000_000)))

    assert first.series_hash == later.series_hash
    assert first.identity != later.identity


def histogram_point(**fields: Any) -> dict:
    point = {"attributes": standard_attributes(), "startTimeUnixNano": str(T0),
             "timeUnixNano": str(T0 + 1), "count": "3", "sum": 7, "min": 1, "max": "4.5",
             "bucketCounts": ["1", 2, 0], "explicitBounds": [1, "5.5"]}
    point.update(fields)
    return point


def test_histogram_point_is_normalised_to_python_numbers():
    decoded = decode_point(histogram_point(), kind="histogram")

    assert (decoded.kind, decoded.value, decoded.temporality) == ("histogram", None, 1)
    assert decoded.is_monotonic is False
    assert decoded.distribution == {"count": 3, "sum": 7.0, "min": 1.0, "max": 4.5,
                                    "bucketCounts": [1, 2, 0], "explicitBounds": [1.0, 5.5]}


def test_histogram_without_sum_min_max_or_buckets_is_kept():
    point = histogram_point(bucketCounts=[], explicitBounds=None)
    del point["sum"], point["min"], point["max"]

    decoded = decode_point(point, kind="histogram")
    assert decoded.distribution == {"count": 3, "sum": None, "min": None, "max": None,
                                    "bucketCounts": [], "explicitBounds": []}


@pytest.mark.parametrize("fields", [
    {"bucketCounts": [1, 2]}, {"bucketCounts": [], "explicitBounds": [1.0]},
    {"bucketCounts": [1, "x", 3]}, {"sum": "many"}, {"min": float("nan")},
    {"explicitBounds": [1, "Infinity"]}, {"count": -1},
])
def test_invalid_histogram_point_is_skipped(fields):
    assert isinstance(decode_point(histogram_point(**fields), kind="histogram"), Skipped)


@pytest.mark.parametrize("sent, kept", [
    ("NaN", "NaN"), ("nan", "NaN"), ("Infinity", "Infinity"), ("+Inf", "Infinity"),
    ("-Infinity", "-Infinity"), ("-inf", "-Infinity"), ("2.5", 2.5),
])
def test_non_finite_distribution_doubles_are_kept_by_their_protojson_names(sent, kept):
    # jsonb cannot hold NaN or an infinity as a number; nothing sums these fields.
    histogram = decode_point(histogram_point(sum=sent, min=sent, max=sent), kind="histogram")
    exponential = decode_point({"timeUnixNano": str(T0), "count": 1, "sum": sent, "min": sent,
                                "max": sent}, kind="exponentialHistogram")
    summary = decode_point({"timeUnixNano": str(T0), "count": "0", "sum": sent,
                            "quantileValues": [{"quantile": 0.5, "value": sent}]},
                           kind="summary")

    for decoded in (histogram, exponential):
        assert [decoded.distribution[name] for name in ("sum", "min", "max")] == [kept] * 3
    assert summary.distribution["sum"] == summary.distribution["quantileValues"][0]["value"] == kept


def test_exponential_histogram_is_normalised():
    point = {"timeUnixNano": str(T0), "count": 4, "sum": 10.5, "scale": -2,
             "zero_count": "1", "zeroThreshold": 0.001,
             "positive": {"offset": 3, "bucket_counts": ["2", 1]}}

    decoded = decode_point(point, kind="exponential_histogram")
    assert decoded.kind == "exponential_histogram"
    assert decoded.distribution == {
        "count": 4, "sum": 10.5, "min": None, "max": None, "scale": -2, "zeroCount": 1,
        "zeroThreshold": 0.001, "positive": {"offset": 3, "bucketCounts": [2, 1]},
        "negative": {"offset": 0, "bucketCounts": []}}


def test_summary_is_normalised_and_has_no_temporality():
    point = {"timeUnixNano": str(T0), "count": "2", "sum": 3,
             "quantileValues": [{"quantile": 0.5, "value": 1}, {"quantile": 1, "value": "2"}]}

    decoded = decode_point(point, kind="summary")
    assert (decoded.kind, decoded.temporality) == ("summary", 0)
    assert decoded.distribution == {"count": 2, "sum": 3.0, "quantileValues": [
        {"quantile": 0.5, "value": 1.0}, {"quantile": 1.0, "value": 2.0}]}


EXEMPLAR = {"timeUnixNano": str(T0), "asDouble": 0.042, "traceId": TRACE_ID.upper(),
            "spanId": SPAN_ID, "filteredAttributes": [kv("http.route", text("/checkout"))]}


def test_exemplars_are_decoded_and_a_bad_one_costs_only_itself():
    bad = [5, {"timeUnixNano": str(T0)}, {**EXEMPLAR, "asDouble": "much"},
           {**EXEMPLAR, "traceId": "xyz"}, {**EXEMPLAR, "filteredAttributes": {"a": 1}}]
    sent = [EXEMPLAR, *bad, {"time_unix_nano": str(T0), "as_int": "7"}]

    decoded = [decode_point(histogram_point(exemplars=sent), kind="histogram"),
               decode_point({"timeUnixNano": str(T0), "exemplars": sent},
                            kind="exponentialHistogram"),
               decode_point(data_point(exemplars=sent))]

    for point in decoded:
        assert point.exemplars == [
            {"time_unix_nano": T0, "value": 0.042, "trace_id": TRACE_ID, "span_id": SPAN_ID,
             "filtered_attributes": {"http.route": "/checkout"}, "dropped_attributes": 0},
            {"time_unix_nano": T0, "value": 7, "trace_id": None, "span_id": None,
             "filtered_attributes": {}, "dropped_attributes": 0}]
        assert point.dropped_exemplars == len(bad)
    # Samples of what the point counts: they are in no digest.
    assert decoded[2].identity == decode_point(data_point()).identity
    not_a_list = decode_point(data_point(exemplars={"asInt": 1}))
    assert (not_a_list.exemplars, not_a_list.dropped_exemplars) == ([], 1)
    summary = decode_point({"timeUnixNano": str(T0), "exemplars": [EXEMPLAR]}, kind="summary")
    assert (summary.exemplars, summary.dropped_exemplars) == ([], 0)


def test_skipped_points_line_up_with_the_points_sent():
    decoded = list(iter_metric_points(metrics_request(
        metric(data_point(), "x", data_point(asDouble=None), data_point(asDouble="NaN"),
               data_point(asDouble=float("inf"))),
        metric(data_point(), kind="gauge"),
        5,
        {"name": "claude_code.cost.usage", "sum": {"dataPoints": {}}},
    )))

    assert [item.reason if isinstance(item, Skipped) else item.kind for item in decoded] == [
        "sum", "data point is not an object", "data point has no value", "sum",
        "asDouble is not a finite number", "gauge", "metric is not an object",
        "dataPoints is not a list"]


def test_bad_point_attribute_drops_the_attribute_not_the_point():
    decoded = decode_point(data_point(kv("cost", {"doubleValue": "NaN"})))

    assert "cost" not in decoded.attributes
    assert decoded.dropped_attributes == 1


# Traces -------------------------------------------------------------------------------


def span(**fields: Any) -> dict:
    """Return an llm_request span as Claude Code sends it, with fields replaced."""
    found = {
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
        "parentSpanId": PARENT_ID,
        "name": "claude_code.llm_request",
        "kind": 1,
        "startTimeUnixNano": str(T0),
        "endTimeUnixNano": str(T0 + 95_781_368),
        "attributes": [
            *standard_attributes(),
            kv("span.type", text("llm_request")),
            kv("input_tokens", {"intValue": 1500}),
            kv("gen_ai.response.finish_reasons", {"arrayValue": {"values": [text("tool_use")]}}),
        ],
        "droppedAttributesCount": 0,
        "events": [{
            "attributes": [kv("attempt", {"intValue": 1})],
            "name": "gen_ai.request.attempt",
            "timeUnixNano": str(T0 + 7_615_685),
            "droppedAttributesCount": 0,
        }],
        "droppedEventsCount": 0,
        "status": {"code": 0},
        "links": [],
        "droppedLinksCount": 0,
        "flags": 257,
    }
    found.update(fields)
    return found


def traces_request(*spans: Any) -> dict:
    return {"resourceSpans": [{
        "resource": resource(),
        "scopeSpans": [{
            "scope": {"name": "com.anthropic.claude_code.tracing", "version": "1.0.0"},
            "spans": list(spans),
        }],
    }]}


def decode_span(found: Any) -> Span | Skipped:
    (decoded,) = iter_spans(traces_request(found))
    return decoded


def test_claude_code_span_decodes():
    decoded = decode_span(span())

    assert (decoded.trace_id, decoded.span_id, decoded.parent_span_id) == (
        TRACE_ID, SPAN_ID, PARENT_ID)
    assert (decoded.name, decoded.kind, decoded.flags) == ("claude_code.llm_request", 1, 257)
    assert decoded.start_time_unix_nano == T0
    assert decoded.end_time_unix_nano == T0 + 95_781_368
    assert decoded.attributes["gen_ai.response.finish_reasons"] == ["tool_use"]
    assert decoded.events == [{"name": "gen_ai.request.attempt",
                               "time_unix_nano": T0 + 7_615_685,
                               "attributes": {"attempt": 1}, "dropped_attributes": 0}]
    assert decoded.links == []
    assert (decoded.status_code, decoded.status_message, decoded.trace_state) == (0, "", "")
    assert decoded.scope_name == "com.anthropic.claude_code.tracing"
    assert len(decoded.identity) == 16


@pytest.mark.parametrize(("fields", "reason"), [
    ({"traceId": ""}, "span has no traceId or spanId"),
    ({"spanId": None}, "span has no traceId or spanId"),
    ({"traceId": "0" * 32}, "invalid traceId"),
    ({"traceId": TRACE_ID[:16]}, "invalid traceId"),
    ({"spanId": "z" * 16}, "invalid spanId"),
    ({"spanId": "ZWRmZGZkZmQ="}, "invalid spanId"),
    ({"startTimeUnixNano": "0"}, "span has no startTimeUnixNano"),
    ({"name": "claude_code.tool\x00"}, "invalid name"),
])
def test_span_without_valid_ids_start_or_name_is_skipped(fields, reason):
    assert decode_span(span(**fields)) == Skipped(reason)


def test_span_ids_are_lowercased():
    decoded = decode_span(span(traceId=TRACE_ID.upper(), spanId=SPAN_ID.upper(),
                               parentSpanId=PARENT_ID.upper()))

    assert (decoded.trace_id, decoded.span_id, decoded.parent_span_id) == (
        TRACE_ID, SPAN_ID, PARENT_ID)


@pytest.mark.parametrize("bad", ["", None, "0" * 16, "xyz", 7])
def test_invalid_parent_span_id_makes_a_root_span(bad):
    assert decode_span(span(parentSpanId=bad)).parent_span_id is None


def test_span_end_time_may_be_absent():
    assert decode_span(span(endTimeUnixNano=None)).end_time_unix_nano == 0


@pytest.mark.parametrize(("kind", "status", "expected"), [
    ("SPAN_KIND_SERVER", {"code": "STATUS_CODE_ERROR", "message": "Shell command failed"},
     (2, 2, "Shell command failed")),
    (3, {"code": 1}, (3, 1, "")),
    (9, {"code": 7}, (9, 7, "")),
    ("SPAN_KIND_WEIRD", None, (0, 0, "")),
])
def test_span_kind_and_status_accept_integers_and_enum_names(kind, status, expected):
    decoded = decode_span(span(kind=kind, status=status))

    assert (decoded.kind, decoded.status_code, decoded.status_message) == expected


def test_span_links_are_decoded():
    link = {"traceId": "B0F0940DE61990343DACB0AA3417E105", "spanId": "D3F29C406556C4D2",
            "traceState": "vendor=1", "attributes": [kv("kind", text("traceresponse"))]}

    decoded = decode_span(span(links=[link]))
    assert decoded.links == [{"trace_id": "b0f0940de61990343dacb0aa3417e105",
                              "span_id": "d3f29c406556c4d2", "trace_state": "vendor=1",
                              "attributes": {"kind": "traceresponse"},
                              "dropped_attributes": 0}]


def test_span_dropped_counts_and_link_flags_are_kept_and_identify_only_when_sent():
    link = {"traceId": TRACE_ID, "spanId": PARENT_ID}
    plain = decode_span(span(links=[link, {**link, "flags": 0}]))
    sent = decode_span(span(links=[{**link, "flags": "257"}], droppedEventsCount="3",
                            droppedLinksCount=2))

    assert (sent.dropped_events, sent.dropped_links) == (3, 2)
    assert sent.links[0]["flags"] == 257 and "flags" not in plain.links[1]
    assert (plain.dropped_events, plain.dropped_links) == (0, 0)
    # Not sent, or 0, they leave a span's identity as it was before they were decoded.
    unsent = span(links=[link, link])
    del unsent["droppedEventsCount"], unsent["droppedLinksCount"]
    assert plain.identity == decode_span(unsent).identity
    assert sent.identity != decode_span(span(links=[link], droppedLinksCount=2)).identity
    assert decode_span(span(droppedEventsCount=3)).identity != decode_span(span()).identity


def test_bad_span_event_or_link_is_dropped_and_the_span_kept():
    good_event = {"name": "tool.output", "timeUnixNano": str(T0)}
    good_link = {"traceId": TRACE_ID, "spanId": PARENT_ID}
    bad_events = [5, {"name": "x\x00"}, {"name": "late", "timeUnixNano": "soon"}]
    bad_links = [{"traceId": TRACE_ID}, {"traceId": TRACE_ID, "spanId": ""}, "link",
                 {"traceId": "0" * 32, "spanId": SPAN_ID}]

    decoded = decode_span(span(events=[*bad_events, good_event],
                               links=[*bad_links, good_link]))

    assert [event["name"] for event in decoded.events] == ["tool.output"]
    assert [link["span_id"] for link in decoded.links] == [PARENT_ID]
    assert decoded.identity == decode_span(span(events=[good_event],
                                                links=[good_link])).identity


def test_bad_span_event_attribute_is_dropped_and_counted_on_the_event():
    event = {"name": "tool.output", "timeUnixNano": str(T0),
             "attributes": [kv("output", {"doubleValue": "NaN"}), kv("size", {"intValue": 7})]}

    (decoded_event,) = decode_span(span(events=[event])).events
    assert decoded_event["attributes"] == {"size": 7}
    assert decoded_event["dropped_attributes"] == 1


def test_span_identity_is_equal_on_retry_and_changes_with_content():
    original = decode_span(span())
    retried = decode_span(span())
    ended_later = decode_span(span(endTimeUnixNano=str(T0 + 95_781_369)))
    other_event = decode_span(span(events=[]))

    assert original.identity == retried.identity
    assert len({original.identity, ended_later.identity, other_event.identity}) == 3


# All signals --------------------------------------------------------------------------


@pytest.mark.parametrize(("decode", "request_"), [
    (iter_logs, logs_request(log_record(severityNumber=9, eventName="x"))),
    (iter_metric_points, metrics_request(metric(data_point()), metric(
        histogram_point(), kind="histogram"), metric(
        {"timeUnixNano": "1", "positive": {"bucketCounts": [1]}, "zeroCount": 2},
        kind="exponentialHistogram"), metric(
        {"timeUnixNano": "1", "quantileValues": [{"quantile": 1}]}, kind="summary"))),
    (iter_spans, traces_request(span(links=[{"traceId": TRACE_ID, "spanId": SPAN_ID,
                                             "traceState": "a=b"}]))),
])
def test_snake_case_request_decodes_like_camel_case(decode, request_):
    camel = list(decode(request_))
    snake = list(decode(snake_case(request_)))

    assert snake_case(request_) != request_
    assert not any(isinstance(item, Skipped) for item in camel)
    assert snake == camel


def test_a_malformed_container_counts_a_skip_for_every_record_it_holds():
    record = {"timeUnixNano": "1795695270080000000", "body": {"stringValue": "x"}}
    bad_scope = {"resourceLogs": [{"scopeLogs": [
        {"scope": {"name": "a\u0000"}, "logRecords": [record, record, record]}]}]}
    bad_resource = {"resourceLogs": [{"resource": 5, "scopeLogs": [
        {"logRecords": [record, record]}, {"logRecords": [record]}]}]}
    point = {"timeUnixNano": "1795695270080000000", "asDouble": 1}
    bad_metrics_resource = {"resourceMetrics": [{"resource": {"attributes": {"a": 1}},
                                                 "scopeMetrics": [{"metrics": [
                                                     {"name": "m", "sum": {"dataPoints": [point, point]}},
                                                     {"name": "g", "gauge": {"dataPoints": [point]}}]}]}]}

    assert [type(item) for item in iter_logs(bad_scope)] == [Skipped] * 3
    assert [type(item) for item in iter_logs(bad_resource)] == [Skipped] * 3
    assert [type(item) for item in iter_metric_points(bad_metrics_resource)] == \
        [Skipped] * 3
    assert len(list(iter_logs({"resourceLogs": [7]}))) == 1
