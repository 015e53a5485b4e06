"""The audit trail: who did what to which org's data, append-only and hash-chained.

Each org's rows form a chain: ``row_hash = SHA-256(prev_hash || canonical row)``, written
under a per-org advisory lock so the chain never forks. The app's database role may only
insert and read audit rows, and a trigger refuses updates and deletes even to the owner;
``verify`` recomputes the chain and names the first row that does not hold. Rows never
hold content or tokens: a token is named by its id.
"""
from __future__ import annotations

import getpass
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from mojule.db import query

INSTALLATION_ORG = 0          # org_id of audit rows about the installation itself
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
MAX_TEXT = 512
COLUMNS = ("org_id", "occurred_at", "actor_type", "actor_id", "actor_role", "token_id",
           "action", "target_type", "target_id", "outcome", "reason", "source_ip",
           "user_agent", "request_id", "details")


@dataclass
class Entry:
    """One audit row before it is chained and stored."""

    action: str                              # e.g. content.read, token.revoke, content.purge
    outcome: str                             # allowed, denied, not_found, ok, error
    actor_type: str                          # user, cli, system
    actor_id: str | None = None              # user email, OS user, ...
    actor_role: str | None = None
    token_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    reason: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verification:
    holds: bool
    checked: int
    head: str | None                         # hex hash of the last row, for anchoring
    broken_at: int | None = None             # audit_id of the first row that does not hold
    problem: str | None = None


def cli_actor() -> str:
    """Return the operating-system user running a CLI command."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _clean(text: str | None) -> str | None:
    # Control characters (CR/LF above all) would let a header forge log lines.
    if text is None:
        return None
    return CONTROL_CHARACTERS.sub(" ", text)[:MAX_TEXT]


def canonical(row: dict[str, Any]) -> bytes:
    """Return the bytes an audit row's hash covers (stable across storage round trips)."""
    values = {name: row[name] for name in COLUMNS}
    moment = values["occurred_at"]
    values["occurred_at"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


def row_hash(prev_hash: bytes | None, row: dict[str, Any]) -> bytes:
    """Return the chained hash of ``row`` following ``prev_hash``."""
    return hashlib.sha256((prev_hash or b"") + canonical(row)).digest()


def record(conn: psycopg.Connection, org_id: int, entry: Entry) -> int:
    """Append ``entry`` to the org's chain and return its audit_id.

    Must run inside the caller's transaction (with the org set for row-level security),
    so the audit row commits or rolls back with the action it records.
    """
    conn.execute(query("audit_lock"), {"org_id": org_id})
    prev = conn.execute(query("audit_head"), {"org_id": org_id}).fetchone()
    prev_hash = prev[0] if prev else None
    row = {
        "org_id": org_id,
        "occurred_at": datetime.now(UTC),
        "actor_type": entry.actor_type, "actor_id": _clean(entry.actor_id),
        "actor_role": entry.actor_role, "token_id": entry.token_id, "action": entry.action,
        "target_type": entry.target_type, "target_id": _clean(entry.target_id),
        "outcome": entry.outcome, "reason": _clean(entry.reason),
        "source_ip": _clean(entry.source_ip), "user_agent": _clean(entry.user_agent),
        "request_id": _clean(entry.request_id), "details": entry.details,
    }
    params = {**row, "details": orjson.dumps(entry.details).decode(),
              "prev_hash": prev_hash, "row_hash": row_hash(prev_hash, row)}
    return conn.execute(query("audit_insert"), params).fetchone()[0]


def rows(conn: psycopg.Connection, org_id: int, since: datetime | None = None,
         until: datetime | None = None, actor: str | None = None, target: str | None = None,
         after_id: int = 0, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield the org's audit rows in order, filtered; runs in the caller's transaction."""
    with conn.cursor(row_factory=dict_row) as cur:
        yield from cur.execute(query("audit_list"), {
            "org_id": org_id, "since": since, "until": until, "actor": actor,
            "target": target, "after_id": after_id, "limit": limit})


def newest_rows(conn: psycopg.Connection, org_id: int, since: datetime | None,
                until: datetime | None, actor: str | None, target: str | None,
                before_id: int | None, limit: int,
                action: str | None = None) -> list[dict[str, Any]]:
    """Return up to ``limit`` of the org's audit rows before ``before_id`` (None: from the
    newest), newest first, filtered: ``target`` is a row's target or the seat of the session
    it targets, ``action`` the start of its action. Runs in the caller's transaction."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query("audit_list_newest"), {
            "org_id": org_id, "since": since, "until": until, "actor": actor,
            "target": target, "action": action, "before_id": before_id,
            "limit": limit}).fetchall()


def content_reads_of(conn: psycopg.Connection, org_id: int, seats: dict[str, list[str]],
                     before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Return up to ``limit`` reads of the content of the sessions whose seat is one of
    ``seats`` (people.seat_identities: emails, account and install ids), refused attempts
    included, before ``before_id`` (None: from the newest), newest first; runs in the
    caller's transaction."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query("audit_content_reads_of_seats"), {
            "org_id": org_id,
            "seat_emails": [email.lower() for email in seats.get("email", ())],
            "seat_account_uuids": list(seats.get("account_uuid", ())),
            "seat_user_ids": list(seats.get("user_id", ())),
            "before_id": before_id, "limit": limit}).fetchall()


def verify(conn: psycopg.Connection, org_id: int) -> Verification:
    """Recompute the org's chain; report the first row that does not hold."""
    prev_hash, checked = None, 0
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(query("audit_chain"), {"org_id": org_id}):
            if row["prev_hash"] != prev_hash:
                return Verification(False, checked, None, row["audit_id"],
                                    "does not follow the row before it (a row was removed "
                                    "or reordered)")
            if row["row_hash"] != row_hash(prev_hash, row):
                return Verification(False, checked, None, row["audit_id"],
                                    "its contents changed after it was written")
            prev_hash = row["row_hash"]
            checked += 1
    return Verification(True, checked, prev_hash.hex() if prev_hash else None)
