"""Key rotation: re-wrapping data keys under a new master key, and new org data keys.

Neither touches content. Both are safe to interrupt and run again: each data key is
re-wrapped in its own transaction, and a key already under the new master is skipped.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from mojule import audit
from mojule.crypto import MasterKey, unwrap_data_key_any, wrap_data_key
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
                dek, _ = unwrap_data_key_any(masters, wrapped, org_id, dek_id)
                conn.execute(query("data_key_rewrap"), {
                    "org_id": org_id, "dek_id": dek_id, "master_key_id": new.key_id,
                    "wrapped_key": wrap_data_key(new, dek, org_id, dek_id)})
            done += 1
        if done:
            with org_transaction(conn, org_id):
                audit.record(conn, org_id, audit.Entry(
                    action="keys.rotate_master", outcome="ok", actor_type="cli", actor_id=actor,
                    details={"rewrapped": done, "master_key_id": new.key_id}))
        results.append(Rewrapped(org_id, done, current))
    return results


def rotate_org_key(conn: psycopg.Connection, master: MasterKey, org_id: int, actor: str) -> int:
    """Retire the org's current data key and start a new one; return the new dek_id."""
    with org_transaction(conn, org_id):
        conn.execute(query("data_key_retire"), {"org_id": org_id})
        dek_id, _ = create_data_key(conn, master, org_id)
        audit.record(conn, org_id, audit.Entry(
            action="keys.rotate", outcome="ok", actor_type="cli", actor_id=actor,
            details={"dek_id": dek_id}))
    return dek_id
