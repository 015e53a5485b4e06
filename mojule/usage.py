"""Usage metadata lifted from attributes into typed, queryable columns.

Claude Code's wire types are not stable (numbers sent as strings before 2.1.122, ints and
doubles switching, ``"undefined"`` status codes), so each value is coerced per key, and a
value that cannot be coerced becomes NULL rather than costing the record. So does a value
the column cannot hold (too long to index, out of the integer's or numeric's range): it
would otherwise fail the whole batch.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Seat identity, most specific first: the signed-in email, then the account, then the
# end user an operator names in OTEL_RESOURCE_ATTRIBUTES (OpenTelemetry's enduser.id, what
# Claude Code's docs advise where API-key, Bedrock, Vertex or Foundry sign-in sends no
# email or account), then the anonymous install id (or the IdP subject on gateway
# sessions), which names a machine rather than a person.
SEAT_KEYS = ("user.email", "user.account_uuid", "user.account_id", "enduser.id", "user.id")
# Every record attribute ``context`` reads.
CONTEXT_KEYS = (*SEAT_KEYS, "session.id", "organization.id", "terminal.type", "app.version")
# Unattributed sessions (migration 0008): what a seat sent without session.id in one UTC
# day. Their ids start with this, then the day, then a digest of the seat identity, so a
# person's email does not show in URLs and logs (a digest hides it, it does not keep it
# secret: the seat identity is in the session's row anyway).
UNATTRIBUTED_PREFIX = "unattributed-"
# Text columns are indexed, and a btree entry holds at most 2704 bytes: 512 characters of
# up to 4 UTF-8 bytes each fit. Ids, names and versions are far shorter.
MAX_TEXT_LENGTH = 512
# A number with more digits than this before or after its point is no cost or measurement
# (a double reaches 1e308 and 5e-324), and one far larger would overflow numeric.
MAX_DECIMAL_DIGITS = 400


@dataclass(slots=True)
class Seat:
    identity: str | None
    email: str | None
    account_uuid: str | None
    user_id: str | None
    organization_uuid: str | None

    def yields_to(self, other: Seat) -> bool:
        """Whether a session known by this seat is ``other``'s instead: no seat was known,
        or ``other`` is a stronger identity (email over account over install id) of this
        seat's own account or install. sql/session_upsert.sql applies the same rule."""
        if other.identity is None or other.identity == self.identity:
            return False
        return self.identity is None or (
            self.email is None and self.identity in (other.account_uuid, other.user_id))


@dataclass(slots=True)
class Context:
    """What every record of a session carries: session, seat and client."""

    session_id: str | None
    seat: Seat
    terminal_type: str | None
    app_version: str | None
    service_name: str | None
    unattributed: bool = False  # session_id names the seat and day: none was sent


def text(value: Any) -> str | None:
    """Return ``value`` as a short string for a text column, or None (long ones included)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    result = str(value)
    # PostgreSQL's text refuses NUL (an attribute keeps one only as content; see Unstorable).
    return result if len(result) <= MAX_TEXT_LENGTH and "\x00" not in result else None


def integer(value: Any, bits: int = 64) -> int | None:
    """Return ``value`` as a signed int of ``bits`` (numbers and numeric strings), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str):
        try:
            result = int(value.strip())
        except ValueError:
            return None
    else:
        return None
    limit = 2 ** (bits - 1)
    return result if -limit <= result < limit else None


def count(value: Any) -> int | None:
    """Return ``value`` as a count (tokens, micro-dollars): a non-negative int, or None.

    Claude Code never sends a negative one, and one stored would subtract from an org's
    figures: whoever holds the org's ingest token could make its spend go down.
    """
    result = integer(value)
    return result if result is not None and result >= 0 else None


def real(value: Any) -> float | None:
    """Return ``value`` as a finite float, or None."""
    if isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def duration(value: Any) -> float | None:
    """Return ``value`` as a duration (milliseconds): a finite float not below 0, or None."""
    result = real(value)
    return result if result is not None and result >= 0 else None


def amount(value: Any) -> Decimal | None:
    """Return ``value`` as money spent: an exact decimal not below 0, or None (see count)."""
    result = decimal(value)
    return result if result is not None and result >= 0 else None


def decimal(value: Any) -> Decimal | None:
    """Return ``value`` as an exact decimal (money), from its shortest text form, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    if not result.is_finite():
        return None
    exponent = result.as_tuple().exponent
    if abs(exponent) > MAX_DECIMAL_DIGITS or abs(result.adjusted()) > MAX_DECIMAL_DIGITS:
        return None
    return result


def boolean(value: Any) -> bool | None:
    """Return ``value`` as a bool ("true"/"false" strings and 1/0 included), or None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    return None


def lookup(attributes: dict, resource: dict, key: str) -> Any:
    """Return a record attribute, falling back to the resource attribute of that name."""
    value = attributes.get(key)
    return resource.get(key) if value is None else value


def context(attributes: dict, resource: dict) -> Context:
    """Return the session, seat and client a record belongs to."""
    values = {key: text(lookup(attributes, resource, key)) for key in SEAT_KEYS}
    source = next((key for key in SEAT_KEYS if values[key]), None)
    identity = values[source] if source else None
    if source == "user.email" or (source == "enduser.id" and "@" in identity):
        # An email names its seat in lower case, however it was typed, so that a person is
        # one seat (and one license seat), and so that the user filter, which lower-cases
        # an email, finds it (migrations 0025 and 0026 brought older seats in line).
        identity = identity.lower()
    email = values["user.email"]
    # An empty id names no session: left as sent, it would be one session shared by all.
    session_id = text(lookup(attributes, resource, "session.id")) or None
    if session_id and session_id.startswith(UNATTRIBUTED_PREFIX):
        # Reserved: such an id would merge with, and unmark, an unattributed session.
        session_id = None
    return Context(
        session_id=session_id,
        seat=Seat(
            identity=identity,
            email=email,
            account_uuid=values["user.account_uuid"],
            user_id=values["user.id"],
            organization_uuid=text(lookup(attributes, resource, "organization.id")),
        ),
        terminal_type=text(lookup(attributes, resource, "terminal.type")),
        app_version=text(lookup(attributes, resource, "app.version"))
        or text(resource.get("service.version")),
        service_name=text(resource.get("service.name")),
    )


def unattributed(ctx: Context, time: datetime) -> Context:
    """Return ``ctx`` filed under its seat and install's unattributed session of
    ``time``'s UTC day.

    For metric points and log events sent without session.id (Claude Code leaves it off
    everything with OTEL_METRICS_INCLUDE_SESSION_ID=false; other exporters may leave it
    off anything), which the accounting would otherwise leave out: it sums sessions.
    """
    seat = ctx.seat
    return replace(ctx, session_id=_unattributed_id(seat.identity, seat.user_id, time.date()),
                   unattributed=True)


@functools.lru_cache(maxsize=4096)
def _unattributed_id(seat_identity: str | None, install: str | None, day: date) -> str:
    # One per install (user.id) of a seat signed in by email or account: whether its usage
    # repeats the seat's events depends on the install that sent it (migration 0020). A
    # seat that is its install, or a record without user.id, keeps the id of migration
    # 0008, so that a day's usage stays in one session across the upgrade.
    key = seat_identity or ""
    if install is not None and install != seat_identity:
        key = f"{key}\0{install}"
    seat = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{UNATTRIBUTED_PREFIX}{day.isoformat()}-{seat}"
