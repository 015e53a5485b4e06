"""Reading a session's verbatim content back: ownership, decryption, tamper detection.

Each ciphertext is decrypted with associated data built from where it is read (the
caller's org, the row's signal, record and attribute), never from anything stored next
to it, so a ciphertext moved to another row, attribute or org fails to decrypt and is
reported as tampered instead of being returned.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from mojule.crypto import (
    ContentCipher,
    CryptoError,
    MasterKey,
    content_aad,
    unwrap_data_key_any,
)
from mojule.db import query

log = logging.getLogger("mojule.content")


@dataclass
class SessionOwner:
    session_id: str
    seat_identity: str | None   # the session's seat: who it belongs to (owns_session)


def find_session(conn: psycopg.Connection, org_id: int, session_id: str) -> SessionOwner | None:
    """Return the org's session (its seat identity), or None. Runs in the org's transaction."""
    row = conn.execute(query("session_owner"), {"org_id": org_id, "session_id": session_id}).fetchone()
    return None if row is None else SessionOwner(*row)


def owns_session(session: SessionOwner, identities: dict[str, list[str]]) -> bool:
    """Return True when the session's seat identity is one of the user's identities.

    A seat named by the user's email counts whatever attribute named it: user.email, or
    enduser.id, as the README advises where the sign-in sends no email. Only the seat: an
    account or install id linked to the user that came along with a session whose seat is
    someone else's email does not open that session's content to them.
    """
    seat = session.seat_identity
    if not seat:
        return False
    emails = {email.lower() for email in identities.get("email", ())}
    return (seat.lower() in emails
            or seat in identities.get("account_uuid", ())
            or seat in identities.get("user_id", ()))


def _ciphers(conn: psycopg.Connection, masters: Sequence[MasterKey], org_id: int) -> dict[int, ContentCipher | None]:
    ciphers: dict[int, ContentCipher | None] = {}
    for dek_id, wrapped in conn.execute(query("data_key_all"), {"org_id": org_id}):
        try:
            dek, _ = unwrap_data_key_any(masters, wrapped, org_id, dek_id)
            ciphers[dek_id] = ContentCipher(dek, dek_id)
        except CryptoError:
            log.error("data key %s of org %s cannot be unwrapped by any master key", dek_id, org_id)
            ciphers[dek_id] = None
    return ciphers


def session_content(conn: psycopg.Connection, masters: Sequence[MasterKey], org_id: int,
                    session_id: str) -> list[dict[str, Any]]:
    """Return the session's events and spans in time order with their content decrypted.

    Each item: signal, time, name, record_id (hex), content {attribute: value}, and the
    attributes that were ``tampered`` (failed to decrypt), ``unreadable`` (their data key
    opens with none of the master keys configured: the server's configuration, not the
    data) or ``purged`` (past retention). Runs in the org's transaction.
    """
    params = {"org_id": org_id, "session_id": session_id}
    with conn.cursor(row_factory=dict_row) as cur:
        records = cur.execute(query("session_records"), params).fetchall()
        values = cur.execute(query("session_content_values"), params).fetchall()
    ciphers = _ciphers(conn, masters, org_id) if values else {}
    by_record: dict[tuple[str, bytes], dict[str, Any]] = {}
    tampered: dict[tuple[str, bytes], list[str]] = {}
    unreadable: dict[tuple[str, bytes], list[str]] = {}
    for value in values:
        key = (value["signal"], bytes(value["record_id"]))
        cipher = ciphers.get(value["dek_id"])
        if cipher is None:
            # _ciphers logged the data key no master key opens, once.
            unreadable.setdefault(key, []).append(value["attribute"])
            continue
        aad = content_aad(org_id, value["signal"], key[1], value["attribute"], value["dek_id"])
        try:
            plaintext = cipher.decrypt(bytes(value["ciphertext"]), aad)
            by_record.setdefault(key, {})[value["attribute"]] = orjson.loads(plaintext)
        except CryptoError:
            log.warning("tampered content: org %s session %s %s record %s attribute %s",
                        org_id, session_id, key[0], key[1].hex(), value["attribute"])
            tampered.setdefault(key, []).append(value["attribute"])
    items = []
    for record in records:
        key = (record["signal"], bytes(record["record_id"]))
        content = by_record.get(key, {})
        bad = sorted(tampered.get(key, []))
        locked = sorted(unreadable.get(key, []))
        items.append({
            "signal": record["signal"],
            "time": record["time"].isoformat(),
            "name": record["name"],
            "record_id": key[1].hex(),
            "content": content,
            "tampered": bad,
            "unreadable": locked,
            "purged": sorted(set(record["content_keys"]) - set(content) - set(bad) - set(locked)),
        })
    return items
