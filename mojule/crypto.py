"""Envelope encryption for verbatim content (prompts, commands, file paths ...).

A master key (KEK, from MOJULE_MASTER_KEY) wraps one data key (DEK) per org and period;
the DEK encrypts content with AES-256-GCM. Every ciphertext is bound by its AAD to the
context it was written for, so a blob copied into another org, row, attribute or key
version fails to decrypt instead of reading back as someone else's data.

Wrapped DEK:  0x01 | 12-byte nonce | AESGCM(KEK) of the DEK, AAD "mojule/dek/v1|org|dek_id"
Content blob: 0x01 | 12-byte nonce | AESGCM(DEK) of the value, AAD from content_aad()

The dek_id lives in its own column next to the blob; it is in the AAD, not in the blob.
Nothing here touches the database or Flask.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(VERSION) + NONCE_BYTES
SIGNALS = ("logs", "metrics", "traces")


class CryptoError(Exception):
    """Unexpected encryption error."""

    def __init__(self, message: str | None = None):
        super().__init__(message or self.__doc__)


class InvalidMasterKey(CryptoError):
    """It must be 32 random bytes in standard base64 (openssl rand -base64 32)."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable} {problem}. {self.__doc__}")


class KeyUnwrapError(CryptoError):
    """A wrapped data key did not open (wrong master key, wrong org or key id, or tampering)."""


class TamperedContent(CryptoError):
    """Stored content did not authenticate (wrong key or context, tampered, or not ciphertext)."""


def _aead(key: bytes) -> AESGCM:
    # AESGCM also accepts 16- and 24-byte keys; refuse them rather than silently use AES-128.
    if len(key) != KEY_BYTES:
        raise ValueError(f"an AES-256 key is {KEY_BYTES} bytes, not {len(key)}")
    return AESGCM(key)


def _seal(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    # A fresh random 96-bit nonce per message: a repeated GCM nonce exposes the XOR of the
    # two plaintexts and lets an attacker forge tags for that key.
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + aead.encrypt(nonce, plaintext, aad)


def _open(aead: AESGCM, blob: bytes, aad: bytes, error: type[CryptoError]) -> bytes:
    """Return the plaintext of ``blob``; raise ``error`` if it is not ours or was altered."""
    # There is no plaintext fallback: anything without our version byte is rejected.
    if len(blob) < HEADER_BYTES + TAG_BYTES or blob[:1] != VERSION:
        raise error()
    try:
        return aead.decrypt(blob[1:HEADER_BYTES], blob[HEADER_BYTES:], aad)
    except InvalidTag as exc:
        raise error() from exc


class MasterKey:
    """The key-encryption key. Holds no raw key bytes, and its repr shows only ``key_id``."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes):
        self._aead = _aead(key)
        # A non-secret fingerprint so operators and logs can tell keys apart.
        digest = hmac.new(key, b"mojule/kek-id/v1", hashlib.sha256).hexdigest()
        self.key_id = digest[:16]

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def load_master_key(text: str | None, variable: str = "MOJULE_MASTER_KEY") -> MasterKey:
    """Return the MasterKey encoded in ``text`` (standard base64 of 32 bytes).

    Surrounding whitespace is ignored. Raises InvalidMasterKey naming ``variable`` and
    the problem; the message never contains any of the key text.
    """
    text = (text or "").strip()
    if not text:
        raise InvalidMasterKey(variable, "is empty")
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        # binascii.Error or non-ASCII text. "from None": the chained error adds nothing.
        raise InvalidMasterKey(variable, "is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise InvalidMasterKey(variable, f"decodes to {len(key)} bytes, not {KEY_BYTES}")
    return MasterKey(key)


def generate_master_key() -> str:
    """Return a new random master key as standard base64, ready for MOJULE_MASTER_KEY."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def new_data_key() -> bytes:
    """Return a new random 32-byte data key (DEK)."""
    return os.urandom(KEY_BYTES)


def _dek_aad(org_id: int, dek_id: int) -> bytes:
    return b"mojule/dek/v1|%d|%d" % (org_id, dek_id)


def _wrap_key(master: MasterKey, key: bytes, aad: bytes, what: str) -> bytes:
    """Return a 32-byte ``key`` encrypted under ``master``, bound to ``aad``."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a {what} is {KEY_BYTES} bytes, not {len(key)}")
    return _seal(master._aead, key, aad)


def _unwrap_key_any(masters: Sequence[MasterKey], wrapped: bytes,
                    aad: bytes) -> tuple[bytes, MasterKey]:
    """Return the key in ``wrapped`` and the first of ``masters`` that opens it (the
    current key, then the previous one while a rotation runs). Raises KeyUnwrapError
    naming the master keys tried when none does."""
    for master in masters:
        try:
            return _open(master._aead, wrapped, aad, KeyUnwrapError), master
        except KeyUnwrapError:
            continue
    tried = ", ".join(master.key_id for master in masters) or "none"
    raise KeyUnwrapError(f"{KeyUnwrapError.__doc__} Master keys tried: {tried}.")


def wrap_data_key(master: MasterKey, dek: bytes, org_id: int, dek_id: int) -> bytes:
    """Return ``dek`` encrypted under ``master``, bound to ``org_id`` and ``dek_id``."""
    return _wrap_key(master, dek, _dek_aad(org_id, dek_id), "data key")


def unwrap_data_key(master: MasterKey, wrapped: bytes, org_id: int, dek_id: int) -> bytes:
    """Return the DEK in ``wrapped``. Raises KeyUnwrapError on any failure."""
    return _open(master._aead, wrapped, _dek_aad(org_id, dek_id), KeyUnwrapError)


def unwrap_data_key_any(
    masters: Sequence[MasterKey], wrapped: bytes, org_id: int, dek_id: int
) -> tuple[bytes, MasterKey]:
    """Return the DEK in ``wrapped`` and the master key that opened it.

    Tries ``masters`` in order (the current key, then the previous one while a rotation
    runs), so the caller can tell which DEKs still need rewrapping under the current key.
    Raises KeyUnwrapError if none of them opens it.
    """
    return _unwrap_key_any(masters, wrapped, _dek_aad(org_id, dek_id))


def content_aad(org_id: int, signal: str, record_id: bytes, attribute: str, dek_id: int) -> bytes:
    """Return the AAD that binds a content value to its org, row, attribute and data key.

    Each field is length-prefixed (4-byte big-endian), so no two different contexts can
    encode to the same bytes. ``record_id`` is the record's stored id: its 16-byte
    identity digest keyed per org (RecordKey.record_id).
    """
    return content_aad_for(org_id, signal, dek_id)(record_id, attribute)


def _field(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def content_aad_for(org_id: int, signal: str, dek_id: int) -> Callable[[bytes, str], bytes]:
    """Return content_aad with the org, signal and data key bound: ``aad(record_id,
    attribute)``, for the many values of one batch. Its bytes are content_aad's."""
    if signal not in SIGNALS:
        raise ValueError(f"signal must be one of {SIGNALS}, not {signal!r}")
    head = b"mojule/content/v1" + _field(b"%d" % org_id) + _field(signal.encode())
    tail = _field(b"%d" % dek_id)
    attributes: dict[str, bytes] = {}   # a batch names a few dozen attributes, many times

    def aad(record_id: bytes, attribute: str) -> bytes:
        packed = attributes.get(attribute)
        if packed is None:
            packed = attributes[attribute] = _field(attribute.encode())
        return head + _field(record_id) + packed + tail

    return aad


class RecordKey:
    """Keys an org's record identities, so that a stored record_id reveals nothing.

    A record's identity is a digest of everything it holds, content included, so that a
    retried export is recognised; stored as it is, anyone holding the database could test
    a guess of a prompt or command against it. Stored ids are this keyed digest (BLAKE2b in
    its keyed, MAC mode) of the decoder's identity. The org's key is random and stored
    wrapped by the master key (record_keys, migration 0011); it never changes, so a
    record's id stays the same for good, which deduplication needs.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise ValueError(f"a record-id key is {KEY_BYTES} bytes, not {len(key)}")
        self._key = key

    @staticmethod
    def from_first_data_key(first_dek: bytes) -> bytes:
        """The record-id key of an org from before migration 0011: derived (HKDF-SHA256)
        from its first data key, as ids were then keyed. One-way: it opens no content."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=b"mojule/record-id/v1").derive(first_dek)

    def __repr__(self) -> str:
        return "RecordKey(...)"

    def record_id(self, identity: bytes) -> bytes:
        """Return the stored record_id of a decoded record's ``identity`` (16 bytes)."""
        return hashlib.blake2b(identity, digest_size=16, key=self._key).digest()


def _record_key_aad(org_id: int) -> bytes:
    return b"mojule/record-key/v1|%d" % org_id


def wrap_record_key(master: MasterKey, key: bytes, org_id: int) -> bytes:
    """Return an org's record-id key encrypted under ``master``, bound to the org."""
    return _wrap_key(master, key, _record_key_aad(org_id), "record-id key")


def unwrap_record_key_any(masters: Sequence[MasterKey], wrapped: bytes,
                          org_id: int) -> tuple[bytes, MasterKey]:
    """Return the org's record-id key and the master key that opened it (as
    unwrap_data_key_any). Raises KeyUnwrapError if none of ``masters`` opens it."""
    return _unwrap_key_any(masters, wrapped, _record_key_aad(org_id))


class ContentCipher:
    """Encrypts and decrypts content values with one data key (``dek_id``).

    Build one per DEK and reuse it: it keeps its AESGCM object and counts its
    encryptions in ``encryptions`` so the caller can rotate the DEK well below the
    2**32 random-nonce messages NIST SP 800-38D allows per key. The count is per
    instance (per process), so the caller's threshold must leave room for that.
    """

    __slots__ = ("_aead", "dek_id", "encryptions")

    def __init__(self, dek: bytes, dek_id: int):
        self._aead = _aead(dek)
        self.dek_id = dek_id
        self.encryptions = 0

    def __repr__(self) -> str:
        return f"ContentCipher(dek_id={self.dek_id!r}, encryptions={self.encryptions})"

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """Return the ciphertext blob of ``plaintext``, bound to ``aad`` (see content_aad)."""
        self.encryptions += 1
        return _seal(self._aead, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Return the plaintext of ``blob``. Raises TamperedContent if it does not authenticate."""
        return _open(self._aead, blob, aad, TamperedContent)
