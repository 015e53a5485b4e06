"""Dashboard sign-ins: the server-side sessions behind the cookie, and the sign-in throttle.

The session cookie (signed by Flask) carries the org and a random session id; the row it
names, keyed by the id's digest, says who is signed in. Signing out deletes the row, a new
password ends every older session, and deleting a user deletes theirs.

Failed sign-ins are counted in PostgreSQL, so every gunicorn worker sees the same count:
- an email of an org is locked for one address after ADDRESS_LIMIT failures from it
  within WINDOW;
- and for every address after ACCOUNT_LIMIT failures from anywhere;
- an address is locked for every email after SPRAY_LIMIT failures from it, whatever the
  org and email: guessing one common password across many emails is slowed, and so are
  the password hashes that anyone can make the workers compute, which ingest shares.
The last two a guesser can set off against someone else, so a browser that signed in as
that email before (``devices``) passes them. A lock ends WINDOW after the latest failure;
attempts refused while locked are not counted. An email's attempts run one at a time
(``attempt``): counted in parallel, a burst of wrong passwords all passed the count
before the first was added.
"""
from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from mojule.audit import INSTALLATION_ORG
from mojule.db import org_transaction, query

SESSION_LIFETIME = timedelta(hours=12)
WINDOW = timedelta(minutes=15)
ADDRESS_LIMIT = 5
ACCOUNT_LIMIT = 20
SPRAY_LIMIT = 100
# An address's failures for every email are counted once more under the installation's
# org with this key: no email or "org/email" key of migration 0018 is a lone "*".
ANY_EMAIL = "*"


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    email: str
    role: str


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def start_session(conn: psycopg.Connection, org_id: int, user_id: int) -> str:
    """Record a sign-in and return the new session id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    with org_transaction(conn, org_id):
        conn.execute(query("dashboard_session_delete_expired"), {"org_id": org_id})
        conn.execute(query("dashboard_session_insert"), {
            "org_id": org_id, "user_id": user_id, "session_digest": _digest(session_id),
            "lifetime_s": SESSION_LIFETIME.total_seconds()})
    return session_id


def resolve_session(conn: psycopg.Connection, org_id: int, session_id: str) -> SignedIn | None:
    """Return who is signed in with ``session_id``, or None (unknown, expired, signed out,
    user deleted, or password changed since)."""
    with org_transaction(conn, org_id):
        row = conn.execute(query("dashboard_session_resolve"), {
            "org_id": org_id, "session_digest": _digest(session_id)}).fetchone()
    return None if row is None else SignedIn(*row)


def end_session(conn: psycopg.Connection, org_id: int, session_id: str) -> None:
    """Delete the session: its cookie no longer signs anyone in."""
    with org_transaction(conn, org_id):
        conn.execute(query("dashboard_session_delete"), {
            "org_id": org_id, "session_digest": _digest(session_id)})


@contextmanager
def attempt(conn: psycopg.Connection, org_id: int, email: str) -> Iterator[None]:
    """Hold the sign-in attempts of ``email`` in the org, others' wait, until this ends:
    the throttle's check, the password check and the failure it records are one step."""
    with conn.transaction():
        conn.execute(query("dashboard_sign_in_lock"), {"org_id": org_id, "email": email})
        yield


def locked_until(conn: psycopg.Connection, org_id: int, email: str, source_ip: str,
                 known_device: bool = False) -> datetime | None:
    """Return when sign-in for ``email`` from ``source_ip`` unlocks, or None if it is open.
    A ``known_device`` is held by the lock of its address for this email only."""
    from_address, last_from_address, from_anywhere, last_from_anywhere = _counts(
        conn, org_id, email, source_ip)
    ends = []
    if from_address >= ADDRESS_LIMIT:
        ends.append(last_from_address + WINDOW)
    if from_anywhere >= ACCOUNT_LIMIT and not known_device:
        ends.append(last_from_anywhere + WINDOW)
    return max(ends, default=None)


def minutes_until(until: datetime) -> int:
    """Whole minutes, rounded up, until a lock ends: what a refused person is told to
    wait, and a 429's Retry-After in minutes."""
    return math.ceil((until - datetime.now(UTC)).total_seconds() / 60)


def address_locked_until(conn: psycopg.Connection, source_ip: str) -> datetime | None:
    """Return when ``source_ip``'s lock for every email (SPRAY_LIMIT) ends, or None."""
    from_address, last_from_address, _, _ = _counts(conn, INSTALLATION_ORG, ANY_EMAIL,
                                                    source_ip)
    return last_from_address + WINDOW if from_address >= SPRAY_LIMIT else None


def _counts(conn: psycopg.Connection, org_id: int, email: str, source_ip: str) -> tuple:
    with org_transaction(conn, org_id):
        return conn.execute(query("dashboard_sign_in_failures_count"), {
            "org_id": org_id, "email": email, "source_ip": source_ip,
            "window_s": WINDOW.total_seconds()}).fetchone()


def record_failure(conn: psycopg.Connection, org_id: int, email: str, source_ip: str) -> None:
    """Count a failed sign-in, and forget the org's failures that no longer count."""
    params = {"org_id": org_id, "email": email, "source_ip": source_ip,
              "window_s": WINDOW.total_seconds()}
    with org_transaction(conn, org_id):
        conn.execute(query("dashboard_sign_in_failures_expire"), params)
        conn.execute(query("dashboard_sign_in_failure_insert"), params)


def record_address_failure(conn: psycopg.Connection, source_ip: str) -> None:
    """Count a failed sign-in of any email toward ``source_ip``'s SPRAY_LIMIT."""
    record_failure(conn, INSTALLATION_ORG, ANY_EMAIL, source_ip)


def clear_failures(conn: psycopg.Connection, org_id: int, email: str, source_ip: str) -> None:
    """Forget the failures of ``email`` from ``source_ip`` after a successful sign-in."""
    with org_transaction(conn, org_id):
        conn.execute(query("dashboard_sign_in_failures_clear"), {
            "org_id": org_id, "email": email, "source_ip": source_ip})
