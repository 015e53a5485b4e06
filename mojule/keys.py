"""Key rotation: re-wrapping data keys (and record-id keys) under a new master key, and
new org data keys.

Neither touches content. Both are safe to interrupt and run again: each data key is
re-wrapped in its own transaction, and a key already under the new master is skipped.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from mojule import audit
from mojule.crypto import (
    KeyUnwrapError,
    MasterKey,
    unwrap_data_key_any,
    unwrap_record_key_any,
    wrap_data_key,
    wrap_record_key,
)
from mojule.db import org_transaction, query
from mojule.keyring import create_data_key


@dataclass
class Rewrapped:
    org_id: int
    rewrapped: int
    already_current: int


def rotate_master_key(conn: psycopg.Connection, masters: Sequence[MasterKey],
                      actor: str) -> list[Rewrapped]:
    """Re-wrap every org's data keys under ``masters[0]`` and return counts per org.

    ``masters`` is the new key first, then the previous one(s). Raises KeyUnwrapError when
    a data key opens under none of them (nothing is changed for that key).
    """
    new = masters[0]
    results = []
    for (org_id,) in conn.execute(query("org_ids_with_keys")).fetchall():
        done = current = 0
        with org_transaction(conn, org_id):
            keys = conn.execute(query("data_key_wrapping"), {"org_id": org_id}).fetchall()
        for dek_id, wrapped, master_key_id in keys:
            if master_key_id == new.key_id:
                current += 1
                continue
            with org_transaction(conn, org_id):
                try:
                    dek, _ = unwrap_data_key_any(masters, wrapped, org_id, dek_id)
                except KeyUnwrapError as exc:
                    raise KeyUnwrapError(f"{exc} Org {org_id}'s data key {dek_id} is "
                                         f"wrapped with master key {master_key_id}.") from None
                conn.execute(query("data_key_rewrap"), {
                    "org_id": org_id, "dek_id": dek_id, "master_key_id": new.key_id,
                    "wrapped_key": wrap_data_key(new, dek, org_id, dek_id)})
            done += 1
        done += _rewrap_record_key(conn, masters, org_id)
        if done:
            with org_transaction(conn, org_id):
                audit.record(conn, org_id, audit.Entry(
                    action="keys.rotate_master", outcome="ok", actor_type="cli", actor_id=actor,
                    details={"rewrapped": done, "master_key_id": new.key_id}))
        results.append(Rewrapped(org_id, done, current))
    return results


def _rewrap_record_key(conn: psycopg.Connection, masters: Sequence[MasterKey],
                       org_id: int) -> int:
    """Re-wrap the org's record-id key (migration 0011) under ``masters[0]``; return 1 if
    it was, 0 if it was already or the org has none yet."""
    with org_transaction(conn, org_id):
        row = conn.execute(query("record_key_wrapping"), {"org_id": org_id}).fetchone()
        if row is None or row[1] == masters[0].key_id:
            return 0
        key, _ = unwrap_record_key_any(masters, row[0], org_id)
        conn.execute(query("record_key_rewrap"), {
            "org_id": org_id, "master_key_id": masters[0].key_id,
            "wrapped_key": wrap_record_key(masters[0], key, org_id)})
    return 1


def rotate_org_key(conn: psycopg.Connection, masters: Sequence[MasterKey], org_id: int,
                   actor: str) -> int:
    """Retire the org's current data key and start a new one under ``masters[0]``; return
    the new dek_id. Raises KeyUnwrapError, changing nothing, when the org's keys do not
    open under ``masters``: a key made under a mistyped master key would stop the org's
    ingest, and block every later master-key rotation."""
    with org_transaction(conn, org_id):
        conn.execute(query("data_key_lock"), {"org_id": org_id})
        _check_masters_open(conn, masters, org_id)
        conn.execute(query("data_key_retire"), {"org_id": org_id})
        dek_id, *_ = create_data_key(conn, masters[0], org_id)
        audit.record(conn, org_id, audit.Entry(
            action="keys.rotate", outcome="ok", actor_type="cli", actor_id=actor,
            details={"dek_id": dek_id}))
    return dek_id


def _check_masters_open(conn: psycopg.Connection, masters: Sequence[MasterKey],
                        org_id: int) -> None:
    """Raise KeyUnwrapError, naming the master key needed, unless ``masters`` open the
    org's newest data key and its record-id key (what ingest uses)."""
    data_keys = conn.execute(query("data_key_wrapping"), {"org_id": org_id}).fetchall()
    record_key = conn.execute(query("record_key_wrapping"), {"org_id": org_id}).fetchone()
    try:
        if data_keys:
            dek_id, wrapped, wrapped_by = data_keys[-1]
            unwrap_data_key_any(masters, wrapped, org_id, dek_id)
        if record_key is not None:
            wrapped, wrapped_by = record_key
            unwrap_record_key_any(masters, wrapped, org_id)
    except KeyUnwrapError as exc:
        raise KeyUnwrapError(f"{exc} The org's keys are wrapped with master key "
                             f"{wrapped_by}.") from None
