"""Summing each past day's sessions ahead, for usage reports (migrations 0021, 0022).

``sum_days`` fills usage_days with the sums of the sessions that began and ended in each
UTC day that has ended, per seat and model, and usage_days_attributes with the same per
seat and resource attributes; it sums again the days that changed since
(usage_day_changes). `mojule init-db` and every `mojule purge` run it, after ``settle``;
reports read the days it summed (sql/analytics_usage.sql, ``cover``) and session_usage
for the rest, so a report is exact whatever was summed, only faster for the days that were.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from mojule.db import org_transaction, query

# A session-level advisory lock per org (with the org id): one summing process at a time.
LOCK = 0x75646179  # "uday"
# Days summed per transaction: a month of a large org is a second or two of work.
DAYS_PER_TRANSACTION = 31
# How long ``settle`` waits for the transactions running when it begins (ingest's last
# milliseconds), and how often it looks.
SETTLE_S = 10.0
SETTLE_PAUSE_S = 0.1


class NotSettled(Exception):
    """Transactions of this database begun before the summing are still running: the days
    are left for the next run (reports stay exact meanwhile)."""


@dataclass(frozen=True)
class Clock:
    """Where summing may end: the days before ``summable_before`` (today, UTC)."""

    summable_before: date


def settle(conn: psycopg.Connection) -> Clock:
    """Wait until every transaction that other sessions of this database were running
    when called has ended, and return the days summing may then end at.

    A write to a day that has not ended notes nothing (migration 0021): the day is summed
    only on a snapshot that sees every transaction that could have made one. Raises
    NotSettled after SETTLE_S. Runs on an autocommit connection, outside a transaction.
    """
    summable_before, running, pids = conn.execute(query("usage_days_clock")).fetchone()
    deadline = time.monotonic() + SETTLE_S
    while running and conn.execute(query("usage_days_running"),
                                   {"running": running}).fetchone()[0]:
        if time.monotonic() >= deadline:
            raise NotSettled(
                f"transactions begun before it are still running after {SETTLE_S:g} s "
                f"(server processes {', '.join(map(str, sorted(pids)))})")
        time.sleep(SETTLE_PAUSE_S)
    return Clock(summable_before)


def sum_days(conn: psycopg.Connection, org_id: int, clock: Clock) -> int:
    """Sum the org's days before ``clock`` that are new, or changed since they were
    summed; return how many days were summed.

    Runs on an autocommit connection, DAYS_PER_TRANSACTION days per transaction, each on
    one snapshot, which ``settle`` made sure sees every write to those days. Returns 0 at
    once when another process is summing the org's days.
    """
    params = {"lock": LOCK, "org_id": org_id}
    if not conn.execute(query("usage_days_try_lock"), params).fetchone()[0]:
        return 0
    try:
        # The changed days listed once: a change still in flight keeps its day listed.
        with org_transaction(conn, org_id):
            noted = [day for (day,) in conn.execute(query("usage_days_noted"),
                                                    {"org_id": org_id})]
        for first in range(0, len(noted), DAYS_PER_TRANSACTION):
            chunk = noted[first:first + DAYS_PER_TRANSACTION]
            _sum(conn, org_id, lambda *_, chunk=chunk: chunk)
        summed = len(noted)

        def next_days(built_through: date | None, first_day: date | None) -> list[date]:
            start = built_through or first_day
            if start is None:
                return []   # no session has ended yet
            end = min(clock.summable_before, start + timedelta(days=DAYS_PER_TRANSACTION))
            return [start + timedelta(days=offset) for offset in range((end - start).days)]

        while days := _sum(conn, org_id, next_days):
            summed += len(days)
        return summed
    finally:
        conn.execute(query("usage_days_unlock"), params)


def _sum(conn: psycopg.Connection, org_id: int,
         pick: Callable[[date | None, date | None], list[date]]) -> list[date]:
    """Sum, in one transaction on one snapshot, the days ``pick`` chooses from the org's
    (built_through, first_day); return them. Days past built_through move it on."""
    with conn.transaction():
        conn.execute(query("transaction_repeatable_read"))
        with org_transaction(conn, org_id):
            built_through, first_day = conn.execute(query("usage_days_state"),
                                                    {"org_id": org_id}).fetchone()
            days = pick(built_through, first_day)
            if days:
                params = {"org_id": org_id, "days": days}
                conn.execute(query("usage_days_clear"), params)
                conn.execute(query("usage_days_attributes_clear"), params)
                conn.execute(query("usage_days_sum"), params)
                conn.execute(query("usage_days_attributes_sum"), params)
                conn.execute(query("usage_day_changes_forget"), params)
                if built_through is None or days[-1] >= built_through:
                    conn.execute(query("usage_days_built_set"), {
                        "org_id": org_id, "built_through": days[-1] + timedelta(days=1)})
            return days

