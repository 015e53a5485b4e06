"""Batches that repeat records report what a clean ingest of the same records does.

The rollup statements read the whole staging table when every staged row was new, and
look the new ones up otherwise (mojule/rollup.py, record_inserted). These tests ingest the
recorded sessions in ways that mix records stored already, records repeated within one
batch, and a batch retried after a 503 on the same pooled connection, and compare every
figure, and the rollup itself, with a clean ingest into another org.
"""
from __future__ import annotations

import copy

import pytest

from mojule import analytics
from tests.conftest import make_user
from tests.ingest_support import app_client
from tests.test_analytics import FROM, SESSIONS, TO, body, claude_result, send
from tests.test_ingest_failures import assert_unavailable, sessions_row_locked
from tests.test_rollup import (
    recomputed_rollup,
    recomputed_session_usage,
    stored_rollup,
    stored_session_usage,
)


def _items(payload: dict, signal: str) -> list[list]:
    """The lists holding the records of an export (log records, or each metric's points)."""
    if signal == "logs":
        return [scope["logRecords"] for resource in payload["resourceLogs"]
                for scope in resource["scopeLogs"]]
    return [metric["sum"]["dataPoints"] for resource in payload["resourceMetrics"]
            for scope in resource["scopeMetrics"] for metric in scope["metrics"]]


def _rewrite(payload: dict, signal: str, pick) -> dict:
    """A copy of the export whose every record list is replaced by pick(list)."""
    payload = copy.deepcopy(payload)
    for items in _items(payload, signal):
        items[:] = pick(items)
    return payload


def first_part(items):
    return [item for index, item in enumerate(items) if index % 3 == 0]


def stored_once_new_twice(items):
    # Records the first part stored, once; the others twice, the repeat later in the batch.
    new = [item for index, item in enumerate(items) if index % 3 != 0]
    return first_part(items) + new + list(reversed(new))


def all_twice(items):
    return items + items


def new_twice_interleaved(items):
    return [item for item in items for _ in range(2)]


def send_clean(client, org, signals):
    for name in SESSIONS:
        for signal in signals:
            send(client, org, signal, body(name, signal))


def send_dirty(client, org, config, db, variant, signals):
    for name in SESSIONS:
        for signal in signals:
            payload = body(name, signal)
            if variant == "partial, then stored once and new twice":
                send(client, org, signal, _rewrite(payload, signal, first_part))
                send(client, org, signal, _rewrite(payload, signal, stored_once_new_twice))
            elif variant == "all new, each twice":
                send(client, org, signal, _rewrite(payload, signal, all_twice))
            elif variant == "all new, twice interleaved, then again":
                send(client, org, signal, _rewrite(payload, signal, new_twice_interleaved))
                send(client, org, signal, _rewrite(payload, signal, new_twice_interleaved))
            elif variant == "503, then retried on the same connection":
                doubled = _rewrite(payload, signal, all_twice)
                with app_client(config, POOL_SIZE=1, STATEMENT_TIMEOUT_MS=300) as impatient:
                    # The org's sessions row exists once anything of it is stored.
                    send(impatient, org, signal, _rewrite(payload, signal, first_part))
                    with sessions_row_locked(db, org.org.org_id):
                        assert_unavailable(impatient.post(
                            f"/v1/{signal}", json=doubled, headers=org.headers))
                    send(impatient, org, signal, doubled)
            else:
                raise AssertionError(variant)


def figures_of(db, org_id):
    out = {}
    for groups in ([], ["day", "model"], ["user"], ["model"], ["terminal", "app_version"]):
        out[tuple(groups)] = analytics.usage(db, org_id, FROM, TO, groups)
    rows, _ = analytics.list_sessions(db, org_id, FROM, TO, limit=500)
    out["sessions"] = rows
    out["detail"] = {name: analytics.session_totals(db, org_id, claude_result(name)["session_id"])
                     for name in SESSIONS}
    return out


def without_org(rows: list[tuple]) -> list[tuple]:
    return [row[1:] for row in rows]


VARIANTS = ("partial, then stored once and new twice", "all new, each twice",
            "all new, twice interleaved, then again", "503, then retried on the same connection")


# Metrics refresh a session's rollup from the raw rows: logs last, or alone, so that
# nothing after them recomputes what they added.
SIGNAL_ORDERS = (("logs",), ("metrics",), ("metrics", "logs"))


@pytest.mark.parametrize("signals", SIGNAL_ORDERS, ids="+".join)
@pytest.mark.parametrize("variant", VARIANTS)
def test_partially_duplicated_batches_report_what_a_clean_ingest_does(
        client, config, db, org, other_org, variant, signals):
    send_clean(client, org, signals)
    send_dirty(client, other_org, config, db, variant, signals)

    clean, dirty = org.org.org_id, other_org.org.org_id
    assert figures_of(db, dirty) == figures_of(db, clean)
    for org_id in (clean, dirty):
        assert stored_rollup(db, org_id) == recomputed_rollup(db, org_id)
        assert stored_session_usage(db, org_id) == recomputed_session_usage(db, org_id)
    assert without_org(stored_rollup(db, dirty)) == without_org(stored_rollup(db, clean))
    if "logs" in signals:
        total = analytics.usage(db, dirty, FROM, TO)[0]
        assert total["cost_usd"] == sum(claude_result(name)["cost_usd"] for name in SESSIONS)

    # And through the API, as JSON.
    admin_clean = make_user(db, org, "a@example.com", "admin")
    admin_dirty = make_user(db, other_org, "a@example.com", "admin")
    window = "from=2020-01-01&to=" + TO.date().isoformat()
    for url in (f"/api/v1/usage?{window}", f"/api/v1/usage?{window}&group_by=user",
                f"/api/v1/usage?{window}&group_by=day&group_by=model",
                f"/api/v1/sessions?{window}"):
        a = client.get(url, headers=admin_clean.headers)
        b = client.get(url, headers=admin_dirty.headers)
        assert a.status_code == b.status_code == 200
        assert a.get_json() == b.get_json(), url
