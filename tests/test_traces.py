"""A session's trace view: its spans as trees, in the API and on the dashboard, no content."""
from __future__ import annotations

import base64
import json
import os
import re
import uuid

import pytest

from mojule import span_trees
from tests.conftest import ingest_session, make_user
from tests.test_analytics import attributes, body, send
from tests.test_dashboard import person, sign_in, sign_out

SESSIONS = ("bash-tool", "failing-bash", "write-tool-resource-attrs")


def sent_spans(name: str) -> list[dict]:
    traces = body(name, "traces")
    return [span for resource in traces["resourceSpans"] for scope in resource["scopeSpans"]
            for span in scope["spans"]]


def by_id(spans: list[dict]) -> dict[str, dict]:
    return {span["span_id"]: span for trace in spans for span in trace["spans"]}


@pytest.fixture
def recorded(client, db, org):
    """The three recorded sessions, an admin, and alice (whose session one is)."""
    admin = make_user(db, org, "admin@example.com", "admin")
    alice = make_user(db, org, "alice@example.com", "member")
    ids = {name: ingest_session(client, org, name) for name in SESSIONS}
    return admin, alice, ids


@pytest.mark.parametrize("name", SESSIONS)
def test_each_span_sent_is_under_the_span_claude_code_named_as_its_parent(client, recorded, name):
    admin, _, ids = recorded
    sent = sent_spans(name)
    answer = client.get(f"/api/v1/sessions/{ids[name]}/traces", headers=admin.headers)
    assert answer.status_code == 200
    traces = answer.get_json()

    shown = by_id(traces["traces"])
    assert traces["span_count"] == len(sent) == len(shown)
    assert traces["truncated"] is False
    for span in sent:
        row = shown[span["spanId"]]
        assert row["name"] == span["name"]
        assert row["parent_span_id"] == (span.get("parentSpanId") or None)
        assert row["duration_ms"] == pytest.approx(
            (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e6)
    for trace in traces["traces"]:
        start = min(int(span["startTimeUnixNano"]) for span in sent
                    if span["traceId"] == trace["trace_id"])
        # Depth first: a span's parent comes before it, one level up.
        seen: dict[str, int] = {}
        for row in trace["spans"]:
            if row["parent_span_id"] in seen:
                assert row["depth"] == seen[row["parent_span_id"]] + 1
            else:
                assert row["depth"] == 0
            seen[row["span_id"]] = row["depth"]
            sent_span = next(span for span in sent if span["spanId"] == row["span_id"])
            assert row["offset_ms"] == pytest.approx(
                (int(sent_span["startTimeUnixNano"]) - start) / 1e6)
        assert trace["spans"][0]["name"] == "claude_code.interaction"
        assert not any(row["orphan"] for row in trace["spans"])


def test_spans_carry_their_figures_and_only_the_names_of_their_content(client, recorded):
    admin, _, ids = recorded
    traces = client.get(f"/api/v1/sessions/{ids['bash-tool']}/traces", headers=admin.headers)
    text = traces.get_data(as_text=True)
    shown = by_id(traces.get_json()["traces"])

    for span in sent_spans("bash-tool"):
        sent = attributes(span)
        row = shown[span["spanId"]]
        if span["name"] == "claude_code.llm_request":
            assert row["model"] == sent["model"]
            assert row["tokens"]["input"] == int(sent["input_tokens"])
            assert row["tokens"]["output"] == int(sent["output_tokens"])
            assert row["kind"] in span_trees.KINDS.values()
        if span["name"] == "claude_code.tool":
            assert row["tool_name"] == sent["tool_name"]
            assert "full_command" in row["content_keys"]
            assert "full_command" not in row["attributes"]
            # The command itself is nowhere in the answer.
            assert json.dumps(sent["full_command"])[1:-1] not in text
        if span["name"] == "claude_code.tool.blocked_on_user":
            assert row["attributes"]["decision"] == sent["decision"]


def test_a_member_sees_the_traces_of_their_own_sessions_only(client, recorded):
    _, alice, ids = recorded
    own = client.get(f"/api/v1/sessions/{ids['write-tool-resource-attrs']}/traces",
                     headers=alice.headers)
    other = client.get(f"/api/v1/sessions/{ids['bash-tool']}/traces", headers=alice.headers)
    unknown = client.get(f"/api/v1/sessions/{uuid.uuid4()}/traces", headers=alice.headers)

    assert own.status_code == 200 and own.get_json()["span_count"] == 6
    assert other.status_code == 404 and "No such session" in other.get_json()["message"]
    assert unknown.status_code == 404


def test_a_session_in_another_org_has_no_traces_there(client, recorded, db, other_org):
    _, _, ids = recorded
    outsider = make_user(db, other_org, "admin@example.com", "admin")
    answer = client.get(f"/api/v1/sessions/{ids['bash-tool']}/traces", headers=outsider.headers)
    assert answer.status_code == 404


def span(trace: str, span_id: str, parent: str | None, start_ms: int, length_ms: int,
         name: str, status: int = 0, session: str = "s-orphans") -> dict:
    base = 1_795_000_000_000_000_000 + start_ms * 1_000_000
    sent = {"traceId": trace, "spanId": span_id, "name": name, "kind": 1,
            "startTimeUnixNano": str(base), "endTimeUnixNano": str(base + length_ms * 1_000_000),
            "status": {"code": status},
            "attributes": [{"key": "session.id", "value": {"stringValue": session}},
                           {"key": "user.email", "value": {"stringValue": "bob@example.com"}}]}
    if parent:
        sent["parentSpanId"] = parent
    return sent


def spans_export(*spans: dict) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": []},
                               "scopeSpans": [{"spans": list(spans)}]}]}


def test_spans_whose_parents_never_came_are_kept_as_orphans_and_loops_shown_once(
        client, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    one, two = "1" * 32, "2" * 32
    send(client, org, "traces", spans_export(
        # Sent children first, as an exporter's batches can.
        span(one, "b" * 16, "a" * 16, 5, 10, "child"),
        span(one, "c" * 16, "b" * 16, 6, 2, "grandchild", status=2),
        span(one, "a" * 16, None, 0, 40, "root"),
        span(one, "d" * 16, "f" * 16, 50, 5, "orphan"),
        span(two, "e" * 16, "e" * 16, 100, 5, "its own parent"),
        span(two, "7" * 16, "8" * 16, 101, 1, "loop one"),
        span(two, "8" * 16, "7" * 16, 102, 1, "loop two"),
    ))
    traces = client.get("/api/v1/sessions/s-orphans/traces", headers=admin.headers).get_json()

    first, second = traces["traces"]
    assert [(row["name"], row["depth"], row["orphan"]) for row in first["spans"]] == [
        ("root", 0, False), ("child", 1, False), ("grandchild", 2, False), ("orphan", 0, True)]
    assert first["errors"] == 1 and first["duration_ms"] == pytest.approx(55)
    assert [row["status"] for row in first["spans"]] == ["unset", "unset", "error", "unset"]
    assert [(row["name"], row["depth"], row["orphan"]) for row in second["spans"]] == [
        ("its own parent", 0, True), ("loop one", 0, True), ("loop two", 1, False)]
    assert second["spans"][1]["offset_ms"] == pytest.approx(1)


def test_a_span_that_ends_ages_on_is_listed_as_sent_but_does_not_stretch_its_trace(
        client, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    forever = span("4" * 32, "1" * 16, None, 0, 100, "root")
    forever["endTimeUnixNano"] = str(2**63 - 1)
    timeless = span("4" * 32, "2" * 16, "1" * 16, 10, 20, "child")
    timeless["events"] = [{"name": "no time", "attributes": []},
                          {"name": "at 15 ms", "timeUnixNano": str(
                              int(timeless["startTimeUnixNano"]) + 5_000_000)}]
    send(client, org, "traces", spans_export(forever, timeless))
    (trace,) = client.get("/api/v1/sessions/s-orphans/traces",
                          headers=admin.headers).get_json()["traces"]

    assert trace["duration_ms"] == pytest.approx(30)
    root, child = trace["spans"]
    assert root["duration_ms"] == pytest.approx((2**63 - 1 - int(forever["startTimeUnixNano"]))
                                                / 1e6)
    assert [event["offset_ms"] for event in child["events"]] == [None, pytest.approx(15)]


def test_a_chain_of_parents_as_long_as_the_view_reads_is_walked_without_recursion():
    rows = [{"span_id": f"{index:016x}", "parent_span_id": f"{index - 1:016x}" if index else None}
            for index in range(span_trees.SPAN_LIMIT)]
    ordered = span_trees.tree_order(list(reversed(rows)))
    assert [depth for _, depth, _ in ordered] == list(range(span_trees.SPAN_LIMIT))


def test_a_session_with_more_spans_than_the_view_reads_says_so(client, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    # Texts that do not compress, under the length that makes them content.
    notes = [base64.b64encode(os.urandom(675)).decode() for _ in range(8)]
    wide = [{"key": f"note.{index}", "value": {"stringValue": note}}
            for index, note in enumerate(notes)]
    spans = [span("3" * 32, f"{index + 1:016x}", None, index, 1, f"span {index}",
                  session="s-many") for index in range(5)]
    send(client, org, "traces", spans_export(
        *({**sent, "attributes": sent["attributes"] + wide} for sent in spans)))

    by_count = span_trees.session_traces(db, org.org.org_id, "s-many", limit=3)
    # Each span's attributes take about 7 kB as stored: a 10 kB budget holds two.
    by_size = span_trees.session_traces(db, org.org.org_id, "s-many", max_bytes=10_000)
    tiny = span_trees.session_traces(db, org.org.org_id, "s-many", max_bytes=1)
    lean = span_trees.session_traces(db, org.org.org_id, "s-many", max_bytes=1, details=False)
    whole = client.get("/api/v1/sessions/s-many/traces", headers=admin.headers).get_json()

    assert (by_count["truncated"], by_count["span_count"], by_count["total_spans"]) == (True, 3, 5)
    assert [row["name"] for row in by_count["traces"][0]["spans"]] == ["span 0", "span 1", "span 2"]
    assert (by_size["truncated"], by_size["span_count"]) == (True, 2)
    assert tiny["span_count"] == 1                  # the first span always comes
    assert lean["span_count"] == 5 and "attributes" not in lean["traces"][0]["spans"][0]
    assert whole["truncated"] is False and whole["span_count"] == whole["total_spans"] == 5
    assert whole["traces"][0]["spans"][0]["attributes"]["note.0"] == notes[0]


@pytest.mark.parametrize("suffix", ["/traces", "/traces/traces"])
def test_a_session_whose_id_ends_in_traces_is_still_found(client, db, org, suffix):
    admin = person(db, org, "admin@example.com", "admin")
    session_id = f"only{suffix}"
    send(client, org, "traces", spans_export(span("5" * 32, "1" * 16, None, 0, 1, "alone",
                                                  session=session_id)))
    detail = client.get(f"/api/v1/sessions/{session_id}", headers=admin.headers)
    traces = client.get(f"/api/v1/sessions/{session_id}/traces", headers=admin.headers)
    assert sign_in(client, org, "admin@example.com").status_code == 302
    page = client.get(f"/sessions/{session_id}")

    assert detail.status_code == 200 and detail.get_json()["session_id"] == session_id
    assert traces.get_json()["session_id"] == session_id
    assert page.status_code == 200 and f">{session_id}</span></h1>" in page.text
    assert client.get(f"/sessions/{session_id}/traces").status_code == 200


def test_a_span_name_that_is_content_or_markup_is_shown_safely(client, db, org):
    person(db, org, "admin@example.com", "admin")
    hostile = '<img src=x onerror="alert(1)">.tool'
    send(client, org, "traces", spans_export(
        span("6" * 32, "1" * 16, None, 0, 1, "n" * 2000, session="s-long-name"),
        span("6" * 32, "2" * 16, "1" * 16, 0, 1, hostile, session="s-long-name")))
    assert sign_in(client, org, "admin@example.com").status_code == 302
    page = client.get("/sessions/s-long-name/traces").text
    assert "(name stored as content)" in page and "n" * 1024 not in page
    # Escaped, then breakable after its dot.
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;.<wbr>tool" in page
    assert "<img" not in page


def test_the_dashboard_draws_each_span_and_links_it_from_the_session(client, db, org):
    person(db, org, "admin@example.com", "admin")
    bob = person(db, org, "bob@example.com")
    session_id = ingest_session(client, org, "bash-tool")
    assert sign_in(client, org, "admin@example.com").status_code == 302

    page = client.get(f"/sessions/{session_id}")
    assert 'data-testid="traces-link"' in page.text and "Traces (6 spans)" in page.text
    traces = client.get(f"/sessions/{session_id}/traces")
    assert traces.status_code == 200
    rows = re.findall(r'<tr class="span-row span-(\w+)" data-span-id="(\w+)" '
                      r'data-depth="(\d+)"', traces.text)
    sent = {span["spanId"]: span for span in sent_spans("bash-tool")}
    assert {span_id for _, span_id, _ in rows} == set(sent)
    assert traces.text.count("<rect ") == len(sent)
    # A permission's decision and a model request's stop reason, as sent.
    decisions = [attributes(span).get("decision") for span in sent.values()]
    assert "accept" in decisions and ">accept" in traces.text.replace("\n", "").replace(" ", "")
    assert 'data-format="datetime-seconds"' in traces.text
    command = attributes(sent[next(iter(
        span_id for span_id, span in sent.items() if span["name"] == "claude_code.tool"))])
    assert command["full_command"] not in traces.text

    # A session without spans has no link, and its trace page says how to send them.
    logs_only = ingest_session(client, org, "failing-bash", signals=("logs",))
    assert "traces-link" not in client.get(f"/sessions/{logs_only}").text
    assert 'data-testid="no-spans"' in client.get(f"/sessions/{logs_only}/traces").text

    sign_out(client)
    assert sign_in(client, org, bob.user.email).status_code == 302
    assert client.get(f"/sessions/{session_id}/traces").status_code == 403
    assert client.get(f"/sessions/{uuid.uuid4()}/traces").status_code == 404
