"""The usage rollup (migration 0003), kept equal to a recomputation from the raw rows.

``usage_rollup`` holds, per session, quarter hour and model, the sums the accounting core
reads; the database function ``mojule_usage_rollup_rows`` computes them from the raw
rows. Ingest calls ``record_inserted`` in the transaction that stored a batch. New log
events are added: an event's figures are its own, so their sums add to the rows of their
quarter hours. For new metric points, every quarter hour they fall in is recomputed and
written over, and every later one of the same sessions, since a late cumulative point
changes what the points after it count. Either way the rollup stays equal to a
recomputation from the raw rows, whatever the exporter sent, retries and late points
included (tests/test_rollup.py checks it after every kind of ingest). A session's
``session_usage`` rows (migration 0006), its totals over its whole rollup, follow by
trigger.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from mojule.db import org_transaction, query

# The telemetry tables whose rows the rollup counts.
ROLLED_UP = ("log_events", "metric_points")
# Sessions recounted per transaction by recount_pending: a few seconds' work at most.
RECOUNT_BATCH = 200
# Tries of a batch that loses a deadlock to ingest before the recount gives up.
RECOUNT_ATTEMPTS = 3


@dataclass
class Recheck:
    """The flag checks an ingest ran, to run again once it has committed (``recheck``)."""

    seats: list[str] = field(default_factory=list)   # sessions_flag_unattributed
    mirror: dict | None = None                       # sessions_flag_metrics_only

    def __bool__(self) -> bool:
        return bool(self.seats or self.mirror)


def record_inserted(conn: psycopg.Connection, org_id: int, table: str,
                    record_ids: Collection[bytes],
                    unattributed: Mapping[str, str | None] | None = None,
                    org_has_unattributed: bool = True, every_staged: bool = False) -> Recheck:
    """Bring the rollup up to date with the rows ingest just inserted into ``table``.

    Runs in the ingest transaction, after the rows were inserted and their sessions
    upserted, while the table's staging table still holds the batch; ``record_ids`` are
    the ids the insert returned (retried records are not among them), and
    ``unattributed`` the batch's unattributed sessions (migration 0008) with their seats.
    ``org_has_unattributed`` False (``UnattributedOrgs``) skips the flag checks, here and
    after COMMIT: both rules flag sessions beside an unattributed one, and the org has none.
    ``every_staged`` True says every row of the staging table was new: the statements then
    read them all rather than look each one up among ``record_ids`` (passed as NULL), which
    is the whole batch on every export but a retry. Sending 512 ids costs the worker 1.5 ms
    per statement, and the lookup, linear under a generic plan, as much again in PostgreSQL.
    """
    if table not in ROLLED_UP or not record_ids:
        return Recheck()
    unattributed = unattributed or {}
    params = {"org_id": org_id, "record_ids": None if every_staged else list(record_ids)}
    checks_possible = bool(unattributed) or org_has_unattributed
    seats = {seat for seat in unattributed.values() if seat is not None}
    # Seats of sessions flagged before, checked here and not again after COMMIT: the seat
    # lock (lock_unattributed_seats) keeps this ingest from running beside one that writes
    # the seat's unattributed sessions, so a second transaction per batch would find
    # nothing new.
    checked_seats = set()
    found = []
    # The mirror (sessions_flag_metrics_only): events sent without session.id, metrics
    # with. For log events, the unattributed sessions that just got api_request events;
    # for metric points, the named sessions that got them.
    if table == "log_events":
        seats.update(seat for (seat,) in conn.execute(query("rollup_flag_sessions"), params)
                     if seat is not None)
        if checks_possible:
            checked_seats.update(seat for (seat,) in conn.execute(
                query("rollup_seats_to_recheck"), params))
        # Every one, not only a first: the other rule may have flagged it before any came.
        mirror_ids = [session_id for (session_id,) in conn.execute(
            query("rollup_sessions_with_requests"),
            {**params, "session_ids": sorted(unattributed)})] if unattributed else []
        mirror = {"unattributed_ids": mirror_ids, "session_ids": None}
        # An event's figures are its own: they are added to the rollup, nothing recomputed.
        # The sessions are locked already: sql/session_upsert.sql locks every row it meets,
        # updated or not, so the totals trigger of two ingests of a session runs in turn.
        conn.execute(query("rollup_add_log_events"), params)
        since = {}
    else:
        since = dict(conn.execute(query("rollup_scope_metric_points"), params).fetchall())
        if unattributed and since:
            found += conn.execute(query("rollup_scope_unattributed_later"), {
                "org_id": org_id, "session_ids": sorted(since)}).fetchall()
        mirror_ids = sorted(set(since) - set(unattributed))
        mirror = {"unattributed_ids": None, "session_ids": mirror_ids}
    if checks_possible:
        checks = Recheck(sorted(seats), mirror if mirror_ids else None)
        found += _flag(conn, org_id, Recheck(sorted(seats | checked_seats), checks.mirror))
    else:
        checks = Recheck()
    # Recomputed whole, from their first row on: not from -infinity, since a cumulative run
    # may have begun the day before, in the seat's previous unattributed session.
    for session_id, first_seen in found:
        since[session_id] = min(since.get(session_id, first_seen), first_seen)
    if since:
        session_ids = sorted(since)
        refresh(conn, org_id, session_ids, [since[session_id] for session_id in session_ids])
    return checks


def recheck(conn: psycopg.Connection, org_id: int, checks: Recheck) -> int:
    """Run an ingest's flag checks again, in a transaction of their own, once it has
    committed; return how many sessions they flagged.

    Two ingests of one seat that commit at the same moment can each miss the other: each
    checks before the other's rows are visible, or finds the other's session held and
    skips it. Of the two, the one that commits last sees both when it checks again. What
    is still missed (a third ingest holding the rows) its own recheck or `mojule purge`
    settles.
    """
    if not checks:
        return 0
    with org_transaction(conn, org_id):
        found = _flag(conn, org_id, checks)
        if found:
            refresh(conn, org_id, [session_id for session_id, _ in found],
                    [first_seen for _, first_seen in found])
    return len(found)


def _flag(conn: psycopg.Connection, org_id: int, checks: Recheck) -> list[tuple]:
    """Flag the sessions whose cost their seat's events count already; return them with
    their first times (sql/sessions_flag_unattributed.sql, sessions_flag_metrics_only.sql)."""
    found = []
    if checks.seats:
        found += conn.execute(query("sessions_flag_unattributed"),
                              {"org_id": org_id, "seats": checks.seats}).fetchall()
    if checks.mirror:
        found += conn.execute(query("sessions_flag_metrics_only"),
                              {"org_id": org_id, **checks.mirror}).fetchall()
    return found


class UnattributedOrgs:
    """The orgs one worker knows to have unattributed sessions (migration 0008).

    Most exporters send session.id, and their orgs have none: their ingests then skip the
    shared seat lock (``lock_unattributed_seats``) and the flag checks of
    ``record_inserted`` (with the transaction of ``recheck``), a few statements per batch,
    for one index probe. Once an org has one it always has (a purge keeps sessions), so
    that answer is kept; "none" is asked again on every batch, since another worker may
    write the org's first one at any time. Only an ingest running beside the one that
    writes it misses it; `mojule purge` settles what that leaves.
    """

    def __init__(self) -> None:
        self.known: set[int] = set()

    def note(self, org_id: int) -> None:
        """Remember that the org has an unattributed session (ingest is writing one)."""
        self.known.add(org_id)

    def has_any(self, conn: psycopg.Connection, org_id: int) -> bool:
        """Whether the org has an unattributed session; run in the org's transaction."""
        if org_id in self.known:
            return True
        if conn.execute(query("sessions_unattributed_any"), {"org_id": org_id}).fetchone()[0]:
            self.note(org_id)
            return True
        return False


def lock_unattributed_seats(conn: psycopg.Connection, org_id: int,
                            seats: Collection[str | None],
                            readers: Collection[str | None] = ()) -> None:
    """Hold the seats of a batch's unattributed sessions until the transaction ends, and
    share the seats of its named sessions' events (``readers``).

    Called by ingest before it upserts the batch's sessions: two ingests writing one seat's
    unattributed sessions then run one after the other, and an ingest of the seat's events
    runs before or after them, never beside (sql/sessions_lock_unattributed_seats.sql).
    """
    if seats or readers:
        conn.execute(query("sessions_lock_unattributed_seats"),
                     {"org_id": org_id, "seats": list(seats), "readers": list(readers)})


def reconcile_unattributed(conn: psycopg.Connection, org_id: int) -> int:
    """Flag every session of the org whose cost and tokens its seat's events count already,
    recompute their usage, and return how many there were: unattributed sessions whose
    seat had a session with api_request events that day, and sessions that sent metrics
    alone while their seat's unattributed session of the day had api_request events.

    Run by ``mojule purge``, in the caller's transaction: ingest flags them as it goes, but
    skips a session another transaction holds, and cannot know that a later export will
    show the seat's events after all.
    """
    flagged = conn.execute(query("sessions_flag_unattributed"),
                           {"org_id": org_id, "seats": None}).fetchall()
    flagged += conn.execute(query("sessions_flag_metrics_only"),
                            {"org_id": org_id, "unattributed_ids": None,
                             "session_ids": None}).fetchall()
    if flagged:
        refresh(conn, org_id, [session_id for session_id, _ in flagged],
                [first_seen for _, first_seen in flagged])
    return len(flagged)


def recount_pending(conn: psycopg.Connection, org_id: int) -> int:
    """Recount the usage of the org's sessions listed in usage_recount (migration 0019),
    RECOUNT_BATCH sessions per transaction, and return how many there were.

    Run by `mojule init-db` after the migrations and by every `mojule purge`, on an
    autocommit connection: each batch commits before the next, so ingest into a session
    waits for one batch at most, and an interrupted recount goes on where it stopped.
    """
    recounted, attempt = 0, 1
    while True:
        try:
            with org_transaction(conn, org_id):
                session_ids = [session_id for (session_id,) in conn.execute(
                    query("rollup_recount_take"), {"org_id": org_id, "batch": RECOUNT_BATCH})]
                refresh(conn, org_id, sorted(session_ids))
                # A recount may find none of a session's records left to count (0027).
                conn.execute(query("rollup_drop_emptied"),
                             {"org_id": org_id, "session_ids": session_ids})
        except psycopg.errors.DeadlockDetected:
            # An ingest that locked the same sessions in another order won; the batch
            # rolled back, its sessions still listed, and is taken again.
            if attempt == RECOUNT_ATTEMPTS:
                raise
            attempt += 1
            continue
        recounted, attempt = recounted + len(session_ids), 1
        if len(session_ids) < RECOUNT_BATCH:
            return recounted


def refresh(conn: psycopg.Connection, org_id: int, session_ids: Sequence[str],
            since: Sequence[datetime] | None = None) -> None:
    """Recompute the rollup rows of ``session_ids`` from the quarter hour holding each
    one's ``since`` on (all of them when None), in the caller's transaction.

    The sessions are locked until the transaction ends, so that two transactions adding
    rows to one session recompute it one after the other.
    """
    if not session_ids:
        return
    params = {"org_id": org_id, "session_ids": list(session_ids),
              "since": list(since) if since is not None else ["-infinity"] * len(session_ids)}
    conn.execute(query("rollup_lock_sessions"), params)
    conn.execute(query("rollup_clear"), params)
    conn.execute(query("rollup_refresh"), params)
