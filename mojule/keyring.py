"""Per-org keys: the current data key (DEK) for content, and the key of record ids.

A Keyring belongs to one worker (it lives on the app): unwrapped keys are cached for a
short time so ingest does not unwrap on every request, and a rotation (`mojule keys
rotate`, or another worker's) is picked up within CACHE_SECONDS. A data key serves for
MOJULE_DATA_KEY_DAYS, then the next write of content retires it and makes a new one, so
that `mojule purge` can destroy each period's key once its content is gone (migration 0011).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from mojule.crypto import (
    ContentCipher,
    MasterKey,
    RecordKey,
    new_data_key,
    unwrap_data_key_any,
    unwrap_record_key_any,
    wrap_data_key,
    wrap_record_key,
)
from mojule.db import query

CACHE_SECONDS = 60.0


def unconfigured_master_key_ids(conn: psycopg.Connection,
                                masters: Sequence[MasterKey]) -> list[str]:
    """The ids of master keys that wrap stored keys but are not among ``masters``: a valid
    key can still be the wrong one (after a restore, or a rotation whose previous key is
    gone), and the orgs whose keys it cannot open have their ingest refused."""
    in_use = {row[0] for row in conn.execute(query("master_key_ids"))}
    return sorted(in_use - {master.key_id for master in masters})


class Keyring:
    """The master keys (newest first) and a short-lived cache of unwrapped org data keys."""

    def __init__(self, masters: Sequence[MasterKey], data_key_days: int = 30):
        self.masters = tuple(masters)
        self.data_key_period = timedelta(days=data_key_days)
        self._current: dict[int, tuple[float, ContentCipher]] = {}
        self._record_keys: dict[int, RecordKey] = {}

    def record_key(self, conn: psycopg.Connection, org_id: int) -> RecordKey:
        """Return the key of the org's record ids, storing it on first use. It never
        changes, so it is cached for good (until ``forget``).

        Must run inside the org's transaction (row-level security).
        """
        cached = self._record_keys.get(org_id)
        if cached is not None:
            return cached
        row = conn.execute(query("record_key_get"), {"org_id": org_id}).fetchone()
        if row is None:
            conn.execute(query("record_key_insert"), {
                "org_id": org_id, "master_key_id": self.masters[0].key_id,
                "wrapped_key": wrap_record_key(self.masters[0], self._first_record_key(
                    conn, org_id), org_id)})
            row = conn.execute(query("record_key_get"), {"org_id": org_id}).fetchone()
        key, _ = unwrap_record_key_any(self.masters, row[0], org_id)
        record_key = self._record_keys[org_id] = RecordKey(key)
        return record_key

    def ensure_record_key(self, conn: psycopg.Connection, org_id: int) -> None:
        """Store the org's record-id key if it has none yet (an org from before migration
        0011 that has not ingested since), so that its first data key may go. Raises
        KeyUnwrapError when no master key opens that data key."""
        if conn.execute(query("record_key_get"), {"org_id": org_id}).fetchone() is None:
            self.record_key(conn, org_id)

    def _first_record_key(self, conn: psycopg.Connection, org_id: int) -> bytes:
        # An org from before migration 0011 keyed its ids from its first data key: the same
        # key keeps them the same. A new org gets a random one.
        first = conn.execute(query("data_key_first"), {"org_id": org_id}).fetchone()
        if first is None:
            return new_data_key()
        dek_id, wrapped = first
        dek, _ = unwrap_data_key_any(self.masters, wrapped, org_id, dek_id)
        return RecordKey.from_first_data_key(dek)

    def current_cipher(self, conn: psycopg.Connection, org_id: int) -> ContentCipher:
        """Return the cipher for the org's current data key, creating one if there is none
        or it has served its period.

        Must run inside the org's transaction (row-level security). Raises KeyUnwrapError
        when no configured master key opens the stored key.
        """
        cached = self._current.get(org_id)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        row = conn.execute(query("data_key_current"), {"org_id": org_id}).fetchone()
        if row is None or self._period_over(row):
            # Read again once no other transaction is changing the org's keys: another
            # worker may have just made the key this one was about to.
            conn.execute(query("data_key_lock"), {"org_id": org_id})
            row = conn.execute(query("data_key_current"), {"org_id": org_id}).fetchone()
            if row is not None and self._period_over(row):
                conn.execute(query("data_key_retire_one"), {"org_id": org_id, "dek_id": row[0]})
                row = None
            if row is None:
                row = create_data_key(conn, self.masters[0], org_id)
        dek_id, wrapped, _ = row
        dek, _ = unwrap_data_key_any(self.masters, wrapped, org_id, dek_id)
        cipher = ContentCipher(dek, dek_id)
        self._current[org_id] = (time.monotonic(), cipher)
        return cipher

    def _period_over(self, row: tuple) -> bool:
        return row[2] <= datetime.now(UTC) - self.data_key_period

    def forget(self, org_id: int | None = None) -> None:
        """Drop cached keys (all, or one org's), e.g. after a rotation."""
        if org_id is None:
            self._current.clear()
            self._record_keys.clear()
        else:
            self._current.pop(org_id, None)
            self._record_keys.pop(org_id, None)


def create_data_key(conn: psycopg.Connection, master: MasterKey,
                    org_id: int) -> tuple[int, bytes, datetime]:
    """Store a new data key for the org, wrapped by ``master``; return (dek_id, wrapped,
    created_at).

    Two workers creating the org's first key at once settle on one: the loser's insert
    does nothing and it reads the winner's key.
    """
    next_id = conn.execute(query("data_key_next_id"), {"org_id": org_id}).fetchone()[0]
    wrapped = wrap_data_key(master, new_data_key(), org_id, next_id)
    conn.execute(query("data_key_insert"), {
        "org_id": org_id, "dek_id": next_id, "wrapped_key": wrapped, "master_key_id": master.key_id,
    })
    return conn.execute(query("data_key_current"), {"org_id": org_id}).fetchone()
