"""Erasing a person's content, or one session's, before its window ends.

For an erasure request (a developer's right to have their prompts deleted) or a session
that captured what it should not have (a secret in a prompt). The content of the seat's
sessions, or of the session, is deleted in one transaction with its audit row, so it is
erased and recorded, or neither. Content that a legal hold keeps is refused: the hold is
released first, on the record. Usage metadata (figures, the seat's name on them) stays,
as it does after the retention purge; backups keep their copies until they expire.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg

from mojule import holds
from mojule.db import query


class ContentHeld(Exception):
    """Legal holds keep content the erasure would delete; nothing was erased."""

    def __init__(self, hold_ids: list[int]):
        super().__init__(hold_ids)
        self.hold_ids = hold_ids


@dataclass
class Erased:
    kind: str          # "session", "seat" or "person"
    target: str        # the session id, the seat (an email in lower case), or the email
    values: int        # content values deleted
    seats: tuple[str, ...] = ()    # a person's seats whose content was erased


def erase_content(conn: psycopg.Connection, org_id: int, reason: str,
                  session_id: str | None = None, seat: str | None = None) -> Erased:
    """Delete the content of one session of the org, or of every session of a seat; run in
    the org's transaction, which the caller's audit row (with ``reason``) shares.

    Raises holds.InvalidRequest for a blank reason, neither or both targets or an unknown
    session or a seat without sessions, and ContentHeld, deleting nothing, while an
    active hold keeps any of it. A seat's content includes its spans sent without a session
    id (their span names the seat). A seat is one identity: a person's linked ids, and
    sessions still known by an install id, are erased by naming each.
    """
    holds.checked_reason(reason)
    session_id, seat = holds.checked_target(conn, org_id, session_id, seat)
    target = {"org_id": org_id, "session_id": session_id, "seat": seat}
    if seat is not None and not _has_sessions(conn, org_id, seat):
        raise holds.InvalidRequest(f"The org has no session of seat {seat[:100]!r}; write it "
                                   "as the Users page does.")
    _refuse_if_held(conn, [target])
    if seat is None:
        return Erased("session", session_id, conn.execute(query("content_erase"), target).rowcount)
    return Erased("seat", seat, _erase_seat(conn, target))


def erase_person(conn: psycopg.Connection, org_id: int, reason: str, email: str) -> Erased:
    """Delete the content of every session of each seat of the org's member ``email``
    (holds.person_seats: their email and the emails and ids linked to them), as
    ``erase_content`` erases a seat's; run in the org's transaction with the caller's
    audit row.

    Raises holds.InvalidRequest for a blank reason, no such member, a seat another member
    claims too, or none of their seats with a session, and ContentHeld, deleting nothing,
    while a hold keeps any of it.
    """
    holds.checked_reason(reason)
    member = holds.find_person(conn, org_id, email)
    every = holds.person_seats(conn, member)
    shared = holds.seats_shared(conn, member, every)
    if shared:
        # Erasing it would erase the other member's content too: a link made by mistake.
        seat, other = next(iter(shared.items()))
        raise holds.InvalidRequest(
            f"Seat {seat[:100]!r} is {other}'s too (their sign-in email, or an id linked to "
            "them): erasing this person would erase their content. Correct the link under "
            "Members, or erase seat by seat.")
    seats = [seat for seat in every if _has_sessions(conn, org_id, seat)]
    if not seats:
        raise holds.InvalidRequest(f"The org has no session of {email.strip()[:100]!r} or of "
                                   "an id linked to them.")
    targets = [{"org_id": org_id, "session_id": None, "seat": seat} for seat in seats]
    _refuse_if_held(conn, targets)
    values = sum(_erase_seat(conn, target) for target in targets)
    # Their sign-in email comes first.
    return Erased("person", every[0], values, tuple(seats))


def audit_details(erased: Erased) -> dict:
    """What the audit trail records of an erasure: how much, and a person's seats."""
    return {"erased": erased.values, **({"seats": list(erased.seats)} if erased.seats else {})}


def _erase_seat(conn: psycopg.Connection, target: dict) -> int:
    """Delete a seat's content, its spans sent without a session id included; return how
    many values went."""
    return (conn.execute(query("content_erase"), target).rowcount
            + conn.execute(query("content_erase_sessionless_spans"), target).rowcount)


def _has_sessions(conn: psycopg.Connection, org_id: int, seat: str) -> bool:
    return bool(conn.execute(query("seat_session_count"),
                             {"org_id": org_id, "seat": seat}).fetchone()[0])


def _refuse_if_held(conn: psycopg.Connection, targets: list[dict]) -> None:
    """Raise ContentHeld, before anything is deleted, while a hold keeps any target."""
    # No hold may be placed or released until this transaction ends: one committed while
    # the content was being deleted would say it keeps what is gone.
    conn.execute(query("holds_lock"))
    held = sorted({hold_id for target in targets
                   for (hold_id,) in conn.execute(query("hold_covering_target"), target)})
    if held:
        raise ContentHeld(held)
