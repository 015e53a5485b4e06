"""The on-prem license policy: whether ingestion runs or is paused, and why.

Ingestion is paused when the license expired more than 14 days ago, when the seats in use
exceed the licensed seats by more than 10% (with no license: an evaluation allowance of 5
seats), or when an operator paused it by hand. Seats in use are the distinct seat
identities that sent telemetry in the trailing 30 days, across the installation (see
sql/migrations/0005_license.sql for how they are counted under row-level security), an
account or install id once seen with a stronger one counting as that seat (0024).

Each worker reuses its decision for a few seconds (IngestPolicy), so a request costs one
clock read. Every change of decision is recorded once and audit-logged on the
installation's trail (org 0), whoever noticed it first: a worker, or the CLI.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.rows import dict_row

from mojule import audit
from mojule.db import org_transaction, query
from mojule.errors import ServiceUnavailable
from mojule.license import License, LicenseError, verify

log = logging.getLogger("mojule.policy")

EVALUATION_SEATS = 5
GRACE = timedelta(days=14)
SEAT_WINDOW = timedelta(days=30)
# Seats may exceed the license by this many percent before ingestion pauses.
SEAT_TOLERANCE_PERCENT = 10
# A pause lasts until an operator acts: minutes at best, often days. Claude Code's exporter
# (OpenTelemetry JS) gives up at once on a Retry-After longer than what is left of its 10 s
# export budget, instead of retrying five times into a server that will refuse again, and
# the Collector's exporter likewise drops a batch whose Retry-After outlasts its 300 s retry
# window; so a long value costs each batch one request, where a short one would cost six.
# Senders that do queue and honour it come back within five minutes of a resume.
PAUSED_RETRY_AFTER_SECONDS = 300
# The audit trail's actor for changes the policy makes by itself (expiry, seats).
POLICY_ACTOR = "license-policy"


class IngestionPaused(ServiceUnavailable):
    """Ingestion is paused by the on-prem license policy. Dashboards and exports stay available."""

    error = "ingestion_paused"

    def __init__(self, reason: str):
        super().__init__(f"Ingestion is paused by the on-prem license policy: {reason}. "
                         "Dashboards and exports stay available.", PAUSED_RETRY_AFTER_SECONDS)


@dataclass(frozen=True)
class ManualPause:
    reason: str
    paused_by: str
    paused_at: datetime


@dataclass(frozen=True)
class Decision:
    """What the policy decided, and the facts it decided on."""

    paused: bool
    reasons: tuple[str, ...]            # why ingestion is paused; empty while it runs
    notes: tuple[str, ...]              # warnings that do not pause it (yet)
    license: License | None             # the license in force, if one verifies
    seats_in_use: int
    seats_licensed: int                 # the license's seats, or the evaluation allowance
    manual: ManualPause | None = None
    installed_at: datetime | None = field(default=None, compare=False)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @property
    def seat_limit(self) -> int:
        """The most seats in use that keep ingestion running."""
        return seat_limit(self.seats_licensed)


def seat_limit(seats_licensed: int) -> int:
    """Return the most seats in use allowed for ``seats_licensed`` (10% over, rounded down)."""
    return seats_licensed * (100 + SEAT_TOLERANCE_PERCENT) // 100


def decide(license: License | None, seats_in_use: int, now: datetime,
           manual: ManualPause | None = None, license_problem: str | None = None) -> Decision:
    """Return the policy's decision for these facts (no I/O)."""
    reasons, notes = [], []
    if manual is not None:
        reasons.append(f"paused by hand ({manual.reason})")
    if license_problem:
        notes.append(license_problem)
    seats = license.seats if license else EVALUATION_SEATS
    if license is not None and now > license.not_after:
        expired = license.not_after.astimezone(UTC)
        if now > expired + GRACE:
            reasons.append(f"the license expired on {expired:%Y-%m-%d}, "
                           f"more than {GRACE.days} days ago")
        else:
            notes.append(f"the license expired on {expired:%Y-%m-%d}; ingestion pauses after "
                         f"{expired + GRACE:%Y-%m-%d %H:%M} UTC unless a renewed license is "
                         "installed")
    what = "the license" if license else "the evaluation allowance (no license installed)"
    if seats_in_use > seat_limit(seats):
        reasons.append(f"more seats are in use than {what} allows "
                       f"({seats} seats, plus {SEAT_TOLERANCE_PERCENT}%)")
    elif seats_in_use > seats:
        notes.append(f"{seats_in_use} seats are in use, more than the {seats} of {what}; "
                     f"ingestion pauses above {seat_limit(seats)}")
    return Decision(bool(reasons), tuple(reasons), tuple(notes), license, seats_in_use, seats,
                    manual)


def evaluate(conn: psycopg.Connection, keys: tuple[Ed25519PublicKey, ...],
             now: datetime | None = None) -> Decision:
    """Return the policy's decision for the installation as stored now (one query)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query("license_policy_inputs"), {"window": SEAT_WINDOW}).fetchone()
    found, problem = None, None
    if row["document"] is not None:
        try:
            found = verify(row["document"], keys)
        except LicenseError as exc:
            problem = (f"the installed license does not verify ({exc}); the evaluation "
                       "allowance applies")
    manual = None
    if row["pause_reason"] is not None:
        manual = ManualPause(row["pause_reason"], row["paused_by"], row["paused_at"])
    decision = decide(found, row["seats_in_use"], now or row["now"], manual, problem)
    return replace(decision, installed_at=row["installed_at"]) if found else decision


def record(conn: psycopg.Connection, decision: Decision, actor_type: str, actor_id: str) -> bool:
    """Record ``decision`` if it changes the recorded state; audit-log and log the change.

    ``actor_type`` is ``system`` when the policy changed the state by itself, ``cli`` when
    an operator's command did. Returns whether the state changed.
    """
    with org_transaction(conn, audit.INSTALLATION_ORG):
        changed = conn.execute(query("license_state_record"), {
            "paused": decision.paused, "reason": decision.reason}).fetchone()
        if changed is None:
            return False
        audit.record(conn, audit.INSTALLATION_ORG, audit.Entry(
            action="ingest.pause" if decision.paused else "ingest.resume", outcome="ok",
            actor_type=actor_type, actor_id=actor_id, target_type="installation",
            reason=decision.reason or None, details=_details(decision)))
    if decision.paused:
        log.warning("ingestion paused: %s", decision.reason)
    else:
        log.warning("ingestion resumed")
    return True


def pause_by_hand(conn: psycopg.Connection, reason: str, actor: str) -> None:
    """Pause ingestion until ``resume_by_hand`` (the reason of a pause already in place changes)."""
    conn.execute(query("license_pause_set"), {"reason": reason, "paused_by": actor})


def resume_by_hand(conn: psycopg.Connection) -> bool:
    """Lift the manual pause; return whether there was one."""
    return conn.execute(query("license_pause_clear")).fetchone() is not None


class IngestPolicy:
    """One worker's view of the policy, refreshed at most every ``ttl`` seconds."""

    def __init__(self, keys: tuple[Ed25519PublicKey, ...], ttl: float, clock=time.monotonic):
        self.keys = keys
        self.ttl = ttl
        self.clock = clock
        self._decision: Decision | None = None
        self._expires = 0.0

    def decision(self, conn: psycopg.Connection) -> Decision:
        """Return the current decision, evaluating (and recording a change) when stale."""
        if self._decision is None or self.clock() >= self._expires:
            decision = evaluate(conn, self.keys)
            record(conn, decision, "system", POLICY_ACTOR)
            self._decision, self._expires = decision, self.clock() + self.ttl
        return self._decision

    def check(self, conn: psycopg.Connection) -> None:
        """Raise IngestionPaused while the policy pauses ingestion."""
        decision = self.decision(conn)
        if decision.paused:
            raise IngestionPaused(decision.reason)


def _details(decision: Decision) -> dict:
    details = {"seats_in_use": decision.seats_in_use,
               "seats_licensed": decision.seats_licensed,
               "paused_by_hand": decision.manual is not None}
    if decision.license is not None:
        details["license_id"] = decision.license.license_id
    return details
