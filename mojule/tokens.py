"""Bearer token format: ``<prefix>_`` + 32 random base62 characters + a 6-character CRC32.

The checksum (as in GitHub's token format) lets us reject a typo or a made-up token
without a database lookup. Tokens use base62 only: OTel exporters split header values on
``,`` ``;`` and ``%``, so none of those may appear. Only a SHA-256 digest is stored; a
token of about 190 random bits needs no slow hash.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib
from datetime import datetime

ALPHABET = string.digits + string.ascii_letters
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
PREFIX_LENGTH = 12           # characters shown in listings and accepted by `token revoke`
# A token's id as an operator types it: ASCII digits (str.isdigit also takes "²", which
# int() refuses, and "١", which int() reads as 1).
TOKEN_ID = re.compile(r"[0-9]{1,18}")
MAX_TOKEN_LENGTH = 255
INGEST_PREFIX = "mtk"
USER_PREFIX = "mut"
PASSWORD_LINK_PREFIX = "mpl"     # a one-time password link's secret, never a credential


class AlreadyRevoked(Exception):
    """That token was revoked before; nothing changed (``revoked_at`` says when)."""

    def __init__(self, prefix: str, revoked_at: datetime):
        super().__init__(prefix)
        self.prefix = prefix
        self.revoked_at = revoked_at


def typed_id(id_or_prefix: str) -> int | None:
    """The token id an operator typed (`token revoke 3`), or None for anything else (a
    visible prefix, or digits that are not ASCII)."""
    return int(id_or_prefix) if TOKEN_ID.fullmatch(id_or_prefix) else None


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate(prefix: str) -> str:
    """Return a new random token such as ``mtk_<32 base62><6 checksum>``."""
    body = f"{prefix}_" + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + _checksum(body)


def is_well_formed(token: str, prefix: str) -> bool:
    """Return True when ``token`` has the right prefix, alphabet, length and checksum."""
    head = f"{prefix}_"
    if not token.startswith(head) or len(token) > MAX_TOKEN_LENGTH:
        return False
    tail = token[len(head):]
    if len(tail) < RANDOM_LENGTH + CHECKSUM_LENGTH or not all(c in ALPHABET for c in tail):
        return False
    body, checksum = token[:-CHECKSUM_LENGTH], token[-CHECKSUM_LENGTH:]
    return secrets.compare_digest(_checksum(body), checksum)


def digest(token: str) -> bytes:
    """Return the SHA-256 digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("ascii")).digest()


def visible_prefix(token: str) -> str:
    """Return the non-secret start of a token shown in listings."""
    return token[:PREFIX_LENGTH]
