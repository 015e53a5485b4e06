"""The receiver's contract: routes, the 202 answer, the recorded Claude Code sessions stored
with exactly their counts, retries that store nothing new, and rows under the token's org.
"""
from __future__ import annotations

import copy
import itertools
import secrets

import pytest

from tests.conftest import fixture_bytes
from tests.ingest_support import (
    COUNT_NAMES,
    ROUTES,
    SESSIONS,
    SIGNALS,
    TABLES,
    attributes,
    fixture_payload,
    org_row_counts,
    records,
    session_ids,
)

FIXTURE_FILES = list(itertools.product(SESSIONS, SIGNALS))
ALL_ROUTES = [(signal, route) for signal in SIGNALS for route in ROUTES[signal]]


def stored(db, org_id: int, signal: str) -> int:
    return db.execute(f"SELECT count(*) FROM {TABLES[signal]} WHERE org_id = %s",
                      (org_id,)).fetchone()[0]


@pytest.mark.parametrize("session, signal", FIXTURE_FILES)
def test_recorded_claude_code_export_gets_202_with_exactly_its_counts(client, org, db,
                                                                      session, signal):
    payload = fixture_payload(session, signal)
    expected = len(records(payload, signal))

    response = client.post(f"/v1/{signal}", data=fixture_bytes(session, signal),
                           headers=org.headers)

    assert response.status_code == 202
    answer = response.get_json()
    assert answer["accepted"] is True
    assert answer["counts"] == {name: expected if name == COUNT_NAMES[signal] else 0
                                for name in COUNT_NAMES.values()}
    assert answer["skipped"] == 0
    assert "partialSuccess" not in answer
    assert answer["sessionIds"] == session_ids(payload, signal)
    assert stored(db, org.org.org_id, signal) == expected


@pytest.mark.parametrize("session, signal", FIXTURE_FILES)
def test_posting_a_recorded_export_twice_stores_nothing_new(client, org, db, session, signal):
    body = fixture_bytes(session, signal)
    expected = len(records(fixture_payload(session, signal), signal))
    first = client.post(f"/v1/{signal}", data=body, headers=org.headers)
    rows_after_first = org_row_counts(db, org.org.org_id)

    second = client.post(f"/v1/{signal}", data=body, headers=org.headers)

    assert first.status_code == second.status_code == 202
    assert first.get_json()["duplicates"] == 0
    assert second.get_json()["duplicates"] == expected
    assert second.get_json()["counts"][COUNT_NAMES[signal]] == expected
    assert org_row_counts(db, org.org.org_id) == rows_after_first
    assert rows_after_first[TABLES[signal]] == expected


def test_all_three_sessions_in_one_org_store_every_record_once(client, org, db):
    for session, signal in FIXTURE_FILES + FIXTURE_FILES:
        assert client.post(f"/v1/{signal}", data=fixture_bytes(session, signal),
                           headers=org.headers).status_code == 202

    for signal in SIGNALS:
        expected = sum(len(records(fixture_payload(session, signal), signal))
                       for session in SESSIONS)
        assert stored(db, org.org.org_id, signal) == expected
    sessions = db.execute("SELECT session_id FROM sessions WHERE org_id = %s ORDER BY 1",
                          (org.org.org_id,)).fetchall()
    assert [row[0] for row in sessions] == sorted(
        session_ids(fixture_payload(session, "logs"), "logs")[0] for session in SESSIONS)


def claiming_org(payload: dict, signal: str, claimed: str) -> dict:
    """The payload with every resource and record claiming another organization."""
    claimed_payload = copy.deepcopy(payload)
    claim = [{"key": "organization.id", "value": {"stringValue": claimed}},
             {"key": "org_id", "value": {"intValue": claimed}}]
    resource_key = {"logs": "resourceLogs", "metrics": "resourceMetrics",
                    "traces": "resourceSpans"}[signal]
    for resource in claimed_payload[resource_key]:
        resource["resource"]["attributes"].extend(copy.deepcopy(claim))
    for record in records(claimed_payload, signal):
        record["attributes"].extend(copy.deepcopy(claim))
    return claimed_payload


@pytest.mark.parametrize("signal", SIGNALS)
def test_rows_land_under_the_tokens_org_whatever_the_payload_claims(client, org, other_org, db,
                                                                    signal):
    other_id = other_org.org.org_id
    payload = claiming_org(fixture_payload("bash-tool", signal), signal, str(other_id))
    other_rows_before = org_row_counts(db, other_id)

    response = client.post(f"/v1/{signal}", json=payload, headers=org.headers)

    assert response.status_code == 202
    assert org_row_counts(db, other_id) == other_rows_before
    expected = len(records(payload, signal))
    assert stored(db, org.org.org_id, signal) == expected
    claims = db.execute(f"SELECT DISTINCT organization_uuid FROM {TABLES[signal]}"
                        " WHERE org_id = %s", (org.org.org_id,)).fetchall()
    assert claims == [(str(other_id),)]


def test_the_same_export_from_two_orgs_is_stored_once_in_each(client, org, other_org, db):
    body = fixture_bytes("failing-bash", "logs")
    for tenant in (org, other_org):
        response = client.post("/v1/logs", data=body, headers=tenant.headers)
        assert response.status_code == 202
        assert response.get_json()["duplicates"] == 0

    expected = len(records(fixture_payload("failing-bash", "logs"), "logs"))
    assert stored(db, org.org.org_id, "logs") == stored(db, other_org.org.org_id, "logs") == expected


@pytest.mark.parametrize("signal, route", ALL_ROUTES)
def test_every_route_stores_its_signal(client, org, db, signal, route):
    expected = len(records(fixture_payload("bash-tool", signal), signal))

    response = client.post(route, data=fixture_bytes("bash-tool", signal), headers=org.headers)

    assert response.status_code == 202
    assert response.get_json()["counts"][COUNT_NAMES[signal]] == expected
    assert stored(db, org.org.org_id, signal) == expected


@pytest.mark.parametrize("signal, route", ALL_ROUTES)
def test_get_on_an_ingest_route_is_405_json_allowing_post(client, org, signal, route):
    response = client.get(route, headers=org.headers)

    assert response.status_code == 405
    assert response.is_json
    assert response.get_json()["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("signal, route", ALL_ROUTES)
def test_trailing_slash_is_not_redirected(client, org, db, signal, route):
    response = client.post(route + "/", data=fixture_bytes("bash-tool", signal),
                           headers=org.headers)

    assert not 300 <= response.status_code < 400
    assert response.status_code == 404
    assert response.is_json
    assert stored(db, org.org.org_id, signal) == 0


@pytest.mark.parametrize("signal, route", ALL_ROUTES)
def test_doubled_slashes_reach_the_route_without_a_redirect(client, org, db, signal, route):
    # What an exporter builds from a base endpoint ending in a slash; exporters do not
    # follow redirects, so a 308 loses the batch.
    doubled = "/" + route[1:].replace("/", "//")
    expected = len(records(fixture_payload("bash-tool", signal), signal))

    response = client.post(doubled, data=fixture_bytes("bash-tool", signal), headers=org.headers)

    assert response.status_code == 202, response.data[:200]
    assert stored(db, org.org.org_id, signal) == expected


@pytest.mark.parametrize("signal", SIGNALS)
def test_empty_request_gets_202_with_zero_counts_and_no_partial_success(client, org, db, signal):
    rows_before = org_row_counts(db, org.org.org_id)

    response = client.post(f"/v1/{signal}", data=b"{}", headers=org.headers)

    assert response.status_code == 202
    assert response.get_json() == {
        "accepted": True, "counts": {"logEvents": 0, "metricPoints": 0, "spans": 0},
        "sessionIds": [], "skipped": 0, "duplicates": 0,
    }
    assert org_row_counts(db, org.org.org_id) == rows_before


def test_answer_is_json_with_the_api_reference_keys(client, org):
    response = client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs"),
                           headers=org.headers)

    assert response.status_code == 202
    assert response.mimetype == "application/json"
    assert {"accepted", "counts", "sessionIds", "skipped"} <= set(response.get_json())


def test_logs_sent_to_the_metrics_route_are_202_with_a_warning(client, org, db):
    response = client.post("/v1/metrics", data=fixture_bytes("bash-tool", "logs"),
                           headers=org.headers)

    assert response.status_code == 202
    answer = response.get_json()
    assert answer["counts"]["metricPoints"] == 0
    assert answer["partialSuccess"]["rejectedDataPoints"] == "0"
    assert "logs" in answer["partialSuccess"]["errorMessage"]
    assert stored(db, org.org.org_id, "logs") == stored(db, org.org.org_id, "metrics") == 0


def one_record_per_session(session_ids: list[str]) -> dict:
    """A recorded request whose records each belong to their own session."""
    payload = fixture_payload("bash-tool", "logs")
    template = records(payload, "logs")[0]
    batch = []
    for index, session_id in enumerate(session_ids):
        record = copy.deepcopy(template)
        record["timeUnixNano"] = str(int(record["timeUnixNano"]) + index)
        for pair in record["attributes"]:
            if pair["key"] == "session.id":
                pair["value"] = {"stringValue": session_id}
        batch.append(record)
    payload["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = batch
    return payload


def test_session_ids_in_the_answer_are_capped_but_every_record_is_stored(client, org, db):
    sessions = [f"session-{index:04d}" for index in range(250)]

    response = client.post("/v1/logs", json=one_record_per_session(sessions),
                           headers=org.headers)

    answer = response.get_json()
    assert answer["counts"]["logEvents"] == 250
    assert answer["sessionIds"] == sessions[:100]
    assert db.execute("SELECT count(*) FROM sessions WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 250


def test_answer_stays_under_64_kib_whatever_the_session_ids(client, org, db):
    # The Collector's exporter reads at most 64 KiB of an answer; JSON escapes each of
    # these characters to six bytes.
    sessions = sorted("".join(chr(0x4E00 + secrets.randbelow(20000)) for _ in range(500))
                      for _ in range(150))

    response = client.post("/v1/logs", json=one_record_per_session(sessions),
                           headers=org.headers)

    assert response.status_code == 202
    assert len(response.data) < 64 * 1024
    answer = response.get_json()
    assert answer["counts"]["logEvents"] == 150
    assert answer["sessionIds"] == sessions[:len(answer["sessionIds"])]
    assert answer["sessionIds"]


def test_a_record_repeated_within_one_request_is_stored_once_and_counted_as_duplicate(
        client, org, db):
    payload = fixture_payload("bash-tool", "logs")
    batch = payload["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    prompts = [record for record in batch
               if attributes(record)["event.name"] == "user_prompt"]
    batch.extend(copy.deepcopy(prompts))

    response = client.post("/v1/logs", json=payload, headers=org.headers)

    assert response.status_code == 202
    answer = response.get_json()
    assert answer["counts"]["logEvents"] == len(batch)
    assert answer["duplicates"] == len(prompts)
    assert stored(db, org.org.org_id, "logs") == len(batch) - len(prompts)
    content_rows = db.execute("SELECT attribute FROM content_values WHERE org_id = %s"
                              " AND attribute IN ('prompt', 'prompt_text')",
                              (org.org.org_id,)).fetchall()
    assert sorted(row[0] for row in content_rows) == ["prompt", "prompt_text"]
