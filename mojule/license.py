"""The on-prem license file: its format, its signature, and where an installed one is kept.

A license file is JSON::

    {"license": {"license_id": "...", "licensee": "...", "seats": 50,
                 "issued_at": "2026-01-01T00:00:00Z", "not_after": "2027-01-01T00:00:00Z"},
     "signature": "<base64 Ed25519 signature>"}

The signature covers the ``license`` object serialised as Python's
``json.dumps(license, sort_keys=True, separators=(",", ":"))`` writes it (non-ASCII
characters escaped as ``\\uXXXX``). What is verified is that serialisation of the parsed
object, so the bytes of the file itself (spacing, key order, duplicate keys) never matter:
the fields that are used are exactly the fields that were signed. Keys that may sign: the
vendor's, built in, and those in MOJULE_LICENSE_PUBLIC_KEYS.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mojule import audit
from mojule.db import org_transaction, query

# The vendor's license-signing key (raw Ed25519 public key, base64). Its private half is
# kept by the vendor and never enters this repository.
VENDOR_PUBLIC_KEY = "0ke2eASmT27QseCaY/QuX0P4+imMpZYquceY+pyJOOo="
FIELDS = ("license_id", "licensee", "seats", "issued_at", "not_after")
MAX_TEXT = 200
# The years a license's times may name: the policy adds its grace period to not_after,
# which overflows near datetime.max (year 9999).
YEARS = range(2000, 9001)


class LicenseError(Exception):
    """The license cannot be used."""

    def __init__(self, message: str | None = None):
        super().__init__(message or " ".join(self.__doc__.split()))


class MalformedLicense(LicenseError):
    """The file is not a license file."""


class ExpiredLicense(LicenseError):
    """The license has expired."""


class UntrustedSignature(LicenseError):
    """The signature does not verify with any trusted key: the file was altered after it was
    signed, or it was signed by a key this installation does not trust (the vendor's key and
    MOJULE_LICENSE_PUBLIC_KEYS)."""


@dataclass(frozen=True)
class License:
    license_id: str
    licensee: str
    seats: int
    issued_at: datetime
    not_after: datetime


def canonical(fields: dict) -> bytes:
    """Return the bytes a license signature covers."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign(fields: dict, private_key: Ed25519PrivateKey) -> str:
    """Return a license file for ``fields`` signed with ``private_key`` (the vendor's half)."""
    signature = private_key.sign(canonical(fields))
    return json.dumps({"license": fields, "signature": base64.b64encode(signature).decode()})


def trusted_keys(extra: Iterable[bytes] = ()) -> tuple[Ed25519PublicKey, ...]:
    """Return the keys that may sign a license: the vendor's, then ``extra`` (raw 32 bytes)."""
    raw = [base64.b64decode(VENDOR_PUBLIC_KEY), *extra]
    return tuple(Ed25519PublicKey.from_public_bytes(key) for key in raw)


def verify(document: str | bytes, keys: Iterable[Ed25519PublicKey]) -> License:
    """Return the License in a license file.

    Raises MalformedLicense when the file is not a well-formed license and
    UntrustedSignature when no trusted key verifies its signature.
    """
    fields, signature = _parse(document)
    signed = canonical(fields)
    for key in keys:
        try:
            key.verify(signature, signed)
        except InvalidSignature:
            continue
        return _license(fields)
    raise UntrustedSignature()


def install(conn: psycopg.Connection, document: str, keys: Iterable[Ed25519PublicKey],
            actor: str, now: datetime | None = None) -> License:
    """Verify a license file, store it as the license in force, and audit-log it.

    Raises MalformedLicense or UntrustedSignature, or ExpiredLicense when it ended before
    ``now`` (None: an expired license is stored too, as tests of the policy need), storing
    nothing.
    """
    found = verify(document, keys)
    if now is not None and found.not_after <= now:
        # Installed, it would replace the license in force, and pause ingestion once its
        # grace period is over.
        raise ExpiredLicense(f"The license expired on {found.not_after:%Y-%m-%d}; nothing "
                             "was installed. Ask for a renewed one.")
    with org_transaction(conn, audit.INSTALLATION_ORG):
        conn.execute(query("license_install"), {
            "license_id": found.license_id, "document": document, "licensee": found.licensee,
            "seats": found.seats, "not_after": found.not_after, "installed_by": actor})
        audit.record(conn, audit.INSTALLATION_ORG, audit.Entry(
            action="license.install", outcome="ok", actor_type="cli", actor_id=actor,
            target_type="license", target_id=found.license_id,
            details={"licensee": found.licensee, "seats": found.seats,
                     "not_after": found.not_after.isoformat()}))
    return found


@dataclass(frozen=True)
class IngestionState:
    paused: bool
    reason: str              # empty while ingestion runs
    changed_at: datetime


def ingestion_state(conn: psycopg.Connection) -> IngestionState:
    """Return the ingestion state the license policy last recorded (mojule.policy.record).

    That is what senders are getting: every decision a worker acts on is recorded first.
    """
    paused, reason, changed_at = conn.execute(query("license_state")).fetchone()
    return IngestionState(paused, reason, changed_at)


def _parse(document: str | bytes) -> tuple[dict, bytes]:
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedLicense("The file is not JSON.") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("license"), dict) \
            or not isinstance(parsed.get("signature"), str):
        raise MalformedLicense('The file must hold a "license" object and a "signature" string.')
    try:
        signature = base64.b64decode(parsed["signature"], validate=True)
    except binascii.Error:
        raise MalformedLicense("The signature is not base64.") from None
    if len(signature) != 64:
        raise MalformedLicense("The signature is not an Ed25519 signature (64 bytes).")
    return parsed["license"], signature


def _license(fields: dict) -> License:
    missing = [name for name in FIELDS if name not in fields]
    if missing:
        raise MalformedLicense(f"The license lacks {', '.join(missing)}.")
    for name in ("license_id", "licensee"):
        value = fields[name]
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise MalformedLicense(f"The license's {name} must be text of 1 to {MAX_TEXT} characters.")
    seats = fields["seats"]
    if not isinstance(seats, int) or isinstance(seats, bool) or not 1 <= seats < 2 ** 31:
        raise MalformedLicense("The license's seats must be a positive whole number.")
    issued_at, not_after = _moment(fields, "issued_at"), _moment(fields, "not_after")
    if not_after < issued_at:
        raise MalformedLicense("The license ends (not_after) before it was issued (issued_at).")
    return License(fields["license_id"], fields["licensee"], seats, issued_at, not_after)


def _moment(fields: dict, name: str) -> datetime:
    value = fields[name]
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise MalformedLicense(f"The license's {name} must be an ISO 8601 time with a zone, "
                               "e.g. 2027-01-01T00:00:00Z.")
    if moment.year not in YEARS:
        raise MalformedLicense(f"The license's {name} must be between the years "
                               f"{YEARS.start} and {YEARS.stop - 1}.")
    return moment
