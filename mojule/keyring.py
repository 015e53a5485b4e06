"""Per-org data keys: find or create the org's current DEK and unwrap it with the master key.

A Keyring belongs to one worker (it lives on the app): unwrapped keys are cached for a
short time so ingest does not unwrap on every request, and a rotation (`mojule keys
rotate`) is picked up within CACHE_SECONDS.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import psycopg

from mojule.crypto import (
    ContentCipher,
    MasterKey,
    RecordKey,
    new_data_key,
    unwrap_data_key_any,
    wrap_data_key,
)
from mojule.db import query

CACHE_SECONDS = 60.0


class Keyring:
    """The master keys (newest first) and a short-lived cache of unwrapped org data keys."""

    def __init__(self, masters: Sequence[MasterKey]):
        self.masters = tuple(masters)
        self._current: dict[int, tuple[float, ContentCipher]] = {}
        self._record_keys: dict[int, RecordKey] = {}

    def record_key(self, conn: psycopg.Connection, org_id: int) -> RecordKey:
        """Return the key of the org's record identities, creating its first data key if
        needed. It never changes, so it is cached for good (until ``forget``).

        Must run inside the org's transaction (row-level security).
        """
        cached = self._record_keys.get(org_id)
        if cached is not None:
            return cached
        row = conn.execute(query("data_key_first"), {"org_id": org_id}).fetchone()
        if row is None:
            self.current_cipher(conn, org_id)
            row = conn.execute(query("data_key_first"), {"org_id": org_id}).fetchone()
        dek_id, wrapped = row
        dek, _ = unwrap_data_key_any(self.masters, wrapped, org_id, dek_id)
        key = self._record_keys[org_id] = RecordKey(dek)
        return key

    def current_cipher(self, conn: psycopg.Connection, org_id: int) -> ContentCipher:
        """Return the cipher for the org's current data key, creating the first if needed.

        Must run inside the org's transaction (row-level security). Raises KeyUnwrapError
        when no configured master key opens the stored key.
        """
        cached = self._current.get(org_id)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        row = conn.execute(query("data_key_current"), {"org_id": org_id}).fetchone()
        if row is None:
            row = create_data_key(conn, self.masters[0], org_id)
        dek_id, wrapped = row
        dek, _ = unwrap_data_key_any(self.masters, wrapped, org_id, dek_id)
        cipher = ContentCipher(dek, dek_id)
        self._current[org_id] = (time.monotonic(), cipher)
        return cipher

    def forget(self, org_id: int | None = None) -> None:
        """Drop cached keys (all, or one org's), e.g. after a rotation."""
        if org_id is None:
            self._current.clear()
            self._record_keys.clear()
        else:
            self._current.pop(org_id, None)
            self._record_keys.pop(org_id, None)


def create_data_key(conn: psycopg.Connection, master: MasterKey, org_id: int) -> tuple[int, bytes]:
    """Store a new data key for the org, wrapped by ``master``; return (dek_id, wrapped).

    Two workers creating the org's first key at once settle on one: the loser's insert
    does nothing and it reads the winner's key.
    """
    next_id = conn.execute(query("data_key_next_id"), {"org_id": org_id}).fetchone()[0]
    wrapped = wrap_data_key(master, new_data_key(), org_id, next_id)
    conn.execute(query("data_key_insert"), {
        "org_id": org_id, "dek_id": next_id, "wrapped_key": wrapped, "master_key_id": master.key_id,
    })
    return conn.execute(query("data_key_current"), {"org_id": org_id}).fetchone()
