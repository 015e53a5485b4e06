"""The retention purge: verbatim content older than each org's window is deleted, and
the retired data keys that encrypted it are destroyed once no content names them
(crypto-shredding: copies of that content anywhere else can no longer be decrypted).

It also settles the sessions that ingest left counting their own cost although their
seat's events count it, when usage came partly without session.id (migration 0008,
rollup.reconcile_unattributed), recounts what an upgrade left to recount (migration
0019, rollup.recount_pending), and sums the days that ended, or changed, for usage reports
(migration 0021, usage_days.sum_days).

Content that an active legal hold keeps (mojule/holds.py) stays past the window, and so
do the data keys that encrypt it. Each org's run leaves a content.purge row in its audit
trail, whether or not it removed anything, as a receipt that the window was enforced.

Usage rows and the audit trail stay. Deletes run in small committed batches with a short
lock timeout, so ingest is never blocked for long; one purge runs at a time (a second
start exits cleanly), and running it again removes nothing new.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from mojule import audit, rollup, usage_days
from mojule.crypto import CryptoError
from mojule.db import org_transaction, query
from mojule.keyring import Keyring

BATCH_SIZE = 5000
PURGE_LOCK = 0x70757267  # "purg": one purge at a time per database


@dataclass
class OrgPurge:
    org_id: int
    slug: str
    retention_days: int
    cutoff: datetime
    removed: int
    held: int = 0          # content past the window that legal holds keep
    reconciled: int = 0    # unattributed sessions that now take cost from events
    shredded: list[int] = field(default_factory=list)   # data keys destroyed (dek ids)
    warning: str | None = None                          # what was left, and why


class PurgeRunning(Exception):
    """Another purge is already running; this one did nothing."""


def purge_expired_content(conn: psycopg.Connection, now: datetime, dry_run: bool = False,
                          actor: str = "system",
                          progress: Callable[[OrgPurge], None] | None = None,
                          keyring: Keyring | None = None) -> list[OrgPurge]:
    """Delete (or, dry, count) every org's content older than its window; return per-org results.

    With a ``keyring`` (the master keys), an org from before migration 0011 first gets its
    record-id key, which its first data key gives, so that key too can be destroyed.
    Raises PurgeRunning when another purge holds the lock.
    """
    got_lock = conn.execute(query("purge_try_lock"), {"lock": PURGE_LOCK}).fetchone()[0]
    if not got_lock:
        raise PurgeRunning()
    try:
        results = []
        clock, unsettled = None, None
        if not dry_run:
            try:
                clock = usage_days.settle(conn)
            except usage_days.NotSettled as exc:
                unsettled = f"usage days left for the next purge: {exc}"
        for org_id, slug, retention_days in conn.execute(query("org_retention_all")).fetchall():
            cutoff = now - timedelta(days=retention_days)
            warnings = []
            window = {"org_id": org_id, "cutoff": cutoff}
            if dry_run:
                with org_transaction(conn, org_id):
                    removed, held = conn.execute(query("content_expired_counts"),
                                                 window).fetchone()
                reconciled, shredded = 0, []
            else:
                removed = 0
                try:
                    for deleted in _delete_batches(conn, org_id, cutoff):
                        removed += deleted
                except psycopg.errors.LockNotAvailable:
                    # Rows another transaction held (an erasure) past the lock timeout:
                    # what is left waits for the next run, never the other orgs' purge.
                    warnings.append("content left for the next purge: rows were locked")
                # The keys of content now gone go too, in the transaction of the audit row
                # that lists them (migration 0011): the run's receipt, written even when
                # it removed nothing.
                with org_transaction(conn, org_id):
                    try:
                        if keyring is not None:
                            keyring.ensure_record_key(conn, org_id)
                    except CryptoError as exc:
                        # Content is still removed; only the keys wait for a master key
                        # that opens them (data_key_shred.sql keeps them meanwhile).
                        warnings.append(f"data keys kept: {exc}")
                    shredded = sorted(dek_id for (dek_id,) in conn.execute(
                        query("data_key_shred"), window))
                    _, held = conn.execute(query("content_expired_counts"), window).fetchone()
                    _audit(conn, org_id, cutoff, retention_days, removed, held, shredded, actor)
                # Ingest flags these as it goes but may skip one; the daily purge catches it.
                with org_transaction(conn, org_id):
                    reconciled = rollup.reconcile_unattributed(conn, org_id)
                # What an upgrade's `mojule init-db` left to recount, had it been stopped.
                # Never at the cost of the other orgs' retention: a recount that fails
                # (a lock it could not get) waits for the next purge.
                try:
                    rollup.recount_pending(conn, org_id)
                except psycopg.Error as exc:
                    warnings.append(f"usage recount left for the next purge: {exc}")
                # The days that ended, and those that changed, summed for reports.
                try:
                    if clock is not None:
                        usage_days.sum_days(conn, org_id, clock)
                    else:
                        warnings.append(unsettled)
                except psycopg.Error as exc:
                    warnings.append(f"usage days left for the next purge: {exc}")
            result = OrgPurge(org_id, slug, retention_days, cutoff, removed, held, reconciled,
                              shredded, "; ".join(warnings) or None)
            results.append(result)
            if progress:
                progress(result)
        return results
    finally:
        conn.execute(query("purge_unlock"), {"lock": PURGE_LOCK})


def _delete_batches(conn: psycopg.Connection, org_id: int, cutoff: datetime) -> Iterator[int]:
    """Delete the org's expired content a batch at a time, each committed, each going on
    from the time the one before reached (rows it kept are not read again)."""
    after = None
    while True:
        with org_transaction(conn, org_id):
            conn.execute(query("lock_timeout_short"))
            times = [time for (time,) in conn.execute(query("content_expired_delete"), {
                "org_id": org_id, "cutoff": cutoff, "after": after, "batch": BATCH_SIZE})]
        yield len(times)
        # Only an empty batch ends it: an erasure deleting some of a batch's rows at the
        # same moment makes it short though more remain.
        if not times:
            return
        after = max(times)


def _audit(conn, org_id: int, cutoff: datetime, retention_days: int, removed: int,
           held: int, shredded: list[int], actor: str):
    """Record the purge of one org, the receipt of its run even when it removed nothing."""
    audit.record(conn, org_id, audit.Entry(
        action="content.purge", outcome="ok", actor_type="cli", actor_id=actor,
        target_type="org", target_id=str(org_id),
        details={"removed": removed, "held": held, "cutoff": cutoff.isoformat(),
                 "retention_days": retention_days, "shredded_data_keys": shredded}))
