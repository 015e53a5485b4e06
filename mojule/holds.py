"""Legal holds: content kept past the org's window while a matter needs it.

An admin holds one session's content, or every session of one seat (one identity, named
as reports name seats: an email, or an account or install id), or of one member (a hold
on each seat that is theirs: their email and the ids linked to them), with a reason.
While a
hold is active, `mojule purge` leaves the content it covers, and the data keys that
encrypt it (migration 0032, mojule_held_sessions). A seat's hold also keeps the sessions
that seat starts later. Releasing a hold lets the next purge remove what the window no
longer keeps; a hold is never deleted but with its org, and an org with an active hold
is not deleted.
Callers audit each change in the transaction that makes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from mojule import labels, people
from mojule.content_read import find_session
from mojule.db import query

MAX_REASON_LENGTH = 500
MAX_SEAT_LENGTH = 512


class InvalidRequest(ValueError):
    """The hold or erasure asked for cannot be made; the message says why."""


class HoldNotFound(LookupError):
    """No active hold of the org has that id."""


@dataclass
class Hold:
    org_id: int
    hold_id: int
    session_id: str | None
    seat_identity: str | None
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    sessions: int | None = None      # sessions it keeps now (listings only)

    @property
    def active(self) -> bool:
        return self.released_at is None

    @property
    def target(self) -> str:
        """What it holds, as the listings and the audit trail name it."""
        return f"session {self.session_id}" if self.session_id else f"seat {self.seat_identity}"


def place_hold(conn: psycopg.Connection, org_id: int, reason: str, placed_by: str,
               session_id: str | None = None, seat: str | None = None) -> Hold:
    """Place a hold on a session of the org, or on a seat; run in the org's transaction.
    The hold comes back with ``sessions``, those it keeps now (a seat's may be none yet).

    Raises InvalidRequest for a blank or overlong reason, for neither or both targets, and
    for a session the org does not have (a typo would otherwise hold nothing).
    """
    reason = checked_reason(reason)
    session_id, seat = checked_target(conn, org_id, session_id, seat)
    with conn.cursor(row_factory=class_row(Hold)) as cur:
        hold = cur.execute(query("hold_insert"), {
            "org_id": org_id, "session_id": session_id, "seat_identity": seat,
            "reason": reason, "placed_by": placed_by}).fetchone()
    hold.sessions = conn.execute(query("hold_session_count"), {
        "org_id": org_id, "hold_id": hold.hold_id}).fetchone()[0]
    return hold


def place_person_holds(conn: psycopg.Connection, org_id: int, reason: str, placed_by: str,
                       email: str) -> list[Hold]:
    """Place a seat hold on each seat of the org's member ``email`` (``person_seats``);
    run in the org's transaction, one audit row per hold. An id linked to them later is
    not held by these. Raises InvalidRequest as place_hold does, or for no such member."""
    return [place_hold(conn, org_id, reason, placed_by, seat=seat)
            for seat in person_seats(conn, find_person(conn, org_id, email))]


def find_person(conn: psycopg.Connection, org_id: int, email: str) -> people.User:
    """Return the org's member who signs in with ``email``. Raises InvalidRequest."""
    try:
        return people.find_user(conn, org_id, email)
    except (people.UserNotFound, people.InvalidEmail):
        raise InvalidRequest(f"The org has no member {email.strip()[:100]!r}; a person is "
                             "named by the email they sign in with (Members).") from None


def person_seats(conn: psycopg.Connection, user: people.User) -> list[str]:
    """Return the seats that are the member's, as seats are stored: the email they sign in
    with, then the emails, account ids and install ids linked to them (as a member's own
    sessions are found)."""
    identities = people.seat_identities(conn, user)
    emails = list(dict.fromkeys(email.lower() for email in identities["email"]))
    return [*emails, *identities["account_uuid"], *identities["user_id"]]


def seats_shared(conn: psycopg.Connection, user: people.User,
                 seats: list[str]) -> dict[str, str]:
    """Return, of ``seats``, those another member of the org also claims (signs in with,
    or has linked under any kind), each with that member's email."""
    shared = {}
    for seat in seats:
        other = conn.execute(query("seat_other_member"), {
            "org_id": user.org_id, "user_id": user.user_id, "seat": seat}).fetchone()
        if other is not None:
            shared[seat] = other[0]
    return shared


def checked_reason(reason: str) -> str:
    """Return the reason for a hold or an erasure, trimmed. Raises InvalidRequest."""
    reason = reason.strip()
    problem = labels.label_problem(reason, MAX_REASON_LENGTH)
    if problem:
        raise InvalidRequest(f"The reason {problem}.")
    return reason


def checked_target(conn: psycopg.Connection, org_id: int, session_id: str | None,
                   seat: str | None) -> tuple[str | None, str | None]:
    """Return (session id, seat) of a hold or an erasure: exactly one of them, as ingest
    stored it (not trimmed; an email seat in lower case). Raises InvalidRequest for
    neither or both, a session the org does not have, or a seat no seat could be."""
    session_id = session_id if session_id and session_id.strip() else None
    seat = seat if seat and seat.strip() else None
    if (session_id is None) == (seat is None):
        raise InvalidRequest("Name one session, one seat or one person.")
    if session_id is not None and find_session(conn, org_id, session_id) is None:
        raise InvalidRequest(f"The org has no session {session_id[:100]!r}.")
    if seat is not None:
        if len(seat) > MAX_SEAT_LENGTH or not seat.isprintable():
            raise InvalidRequest(f"A seat is an email, account or install id of at most "
                                 f"{MAX_SEAT_LENGTH} characters on one line.")
        # Email seats are kept in lower case (ingest; migrations 0025 and 0026).
        seat = seat.lower() if "@" in seat else seat
    return session_id, seat


def release_hold(conn: psycopg.Connection, org_id: int, hold_id: int, released_by: str) -> Hold:
    """Release an active hold; run in the org's transaction. Raises HoldNotFound."""
    with conn.cursor(row_factory=class_row(Hold)) as cur:
        hold = cur.execute(query("hold_release"), {
            "org_id": org_id, "hold_id": hold_id, "released_by": released_by}).fetchone()
    if hold is None:
        raise HoldNotFound(hold_id)
    return hold


def list_holds(conn: psycopg.Connection, org_id: int, active_only: bool = False) -> list[Hold]:
    """Return the org's holds, active first, each with the sessions it keeps now."""
    with conn.cursor(row_factory=class_row(Hold)) as cur:
        return cur.execute(query("hold_list"), {"org_id": org_id,
                                                "active_only": active_only}).fetchall()


def holds_of_session(conn: psycopg.Connection, org_id: int, session_id: str) -> list[Hold]:
    """Return the active holds that keep one session's content (its own and its seat's)."""
    with conn.cursor(row_factory=class_row(Hold)) as cur:
        return cur.execute(query("hold_list_of_session"), {
            "org_id": org_id, "session_id": session_id}).fetchall()


def audit_details(hold: Hold) -> dict:
    """What the audit trail records of a hold."""
    return {"hold_id": hold.hold_id, "session_id": hold.session_id,
            "seat": hold.seat_identity, "reason": hold.reason}
