"""Summing each past day's sessions ahead, for usage reports (migration 0021).

``sum_days`` fills usage_days with the sums of the sessions that began and ended in each
UTC day that has ended, per seat and model, and sums again the days that changed since
(usage_day_changes). `mojule init-db` and every `mojule purge` run it; reports read the
days it summed (sql/analytics_usage.sql, ``cover``) and session_usage for the rest, so
a report is exact whatever was summed, only faster for the days that were.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta

import psycopg

from mojule.db import org_transaction, query

# A session-level advisory lock per org (with the org id): one summing process at a time.
LOCK = 0x75646179  # "uday"
# Days summed per transaction: a month of a large org is a second or two of work.
DAYS_PER_TRANSACTION = 31
# How long summing waits for the transactions that were running when it began (ingest's
# last only milliseconds) before it leaves the days to the next run.
SETTLE_TRIES = 50
SETTLE_PAUSE_S = 0.1


def sum_days(conn: psycopg.Connection, org_id: int) -> int:
    """Sum the org's days that have ended and are new, or changed since they were summed;
    return how many days were summed.

    Runs on an autocommit connection, DAYS_PER_TRANSACTION days per transaction, each on
    one snapshot. Returns 0 at once when another process is summing the org's days, and
    sums nothing while a transaction that could write to those days is still running.
    """
    params = {"lock": LOCK, "org_id": org_id}
    if not conn.execute(query("usage_days_try_lock"), params).fetchone()[0]:
        return 0
    try:
        summable_before, next_xact = conn.execute(query("usage_days_clock")).fetchone()
        # The changed days listed once: a change still in flight keeps its day listed.
        with org_transaction(conn, org_id):
            built_through = _state(conn, org_id, next_xact)[0]
            noted = [day for (day,) in conn.execute(
                query("usage_days_noted"), {"org_id": org_id, "built_through": built_through})]
        summed = 0
        for first in range(0, len(noted), DAYS_PER_TRANSACTION):
            chunk = noted[first:first + DAYS_PER_TRANSACTION]
            summed += len(_sum(conn, org_id, next_xact, lambda *_, chunk=chunk: chunk))

        def next_days(built_through: date | None, first_day: date | None) -> list[date]:
            start = built_through or first_day
            if start is None:
                return []   # no session has ended yet
            end = min(summable_before, start + timedelta(days=DAYS_PER_TRANSACTION))
            return [start + timedelta(days=offset) for offset in range((end - start).days)]

        while days := _sum(conn, org_id, next_xact, next_days):
            summed += len(days)
        return summed
    finally:
        conn.execute(query("usage_days_unlock"), params)


def _sum(conn: psycopg.Connection, org_id: int, next_xact: str,
         pick: Callable[[date | None, date | None], list[date]]) -> list[date]:
    """Sum, in one transaction on one snapshot, the days ``pick`` chooses from the org's
    (built_through, first_day); return them. Days past built_through move it on.

    Waits first for a snapshot that sees every transaction below ``next_xact`` ended
    (sql/usage_days_state.sql); sums nothing if none comes.
    """
    for attempt in range(SETTLE_TRIES):
        if attempt:
            time.sleep(SETTLE_PAUSE_S)
        with conn.transaction():
            conn.execute(query("transaction_repeatable_read"))
            with org_transaction(conn, org_id):
                built_through, first_day, settled = _state(conn, org_id, next_xact)
                if not settled:
                    continue
                days = pick(built_through, first_day)
                if days:
                    params = {"org_id": org_id, "days": days}
                    conn.execute(query("usage_days_clear"), params)
                    conn.execute(query("usage_days_sum"), params)
                    conn.execute(query("usage_day_changes_forget"), params)
                    if built_through is None or days[-1] >= built_through:
                        conn.execute(query("usage_days_built_set"), {
                            "org_id": org_id, "built_through": days[-1] + timedelta(days=1)})
                return days
    return []


def _state(conn: psycopg.Connection, org_id: int,
           next_xact: str) -> tuple[date | None, date | None, bool]:
    """(built_through, first_day, settled): see sql/usage_days_state.sql."""
    return conn.execute(query("usage_days_state"),
                        {"org_id": org_id, "next_xact": next_xact}).fetchone()
