"""People: an org's users, the seat identities linked to them, and their API tokens.

A member owns the sessions whose seat identity is theirs: ``user.email`` equal to their
email (case-insensitive) or an identity an admin linked to them. Admins see their org.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.rows import class_row

from mojule import tokens
from mojule.db import org_transaction, query

# An admin sees and changes the whole org, its content included; an analyst sees the whole
# org's usage and sessions but only their own content, and changes nothing; a member sees
# their own sessions. Listed from most to least power.
ROLES = ("admin", "analyst", "member")
WHOLE_ORG_ROLES = ("admin", "analyst")
IDENTITY_KINDS = ("email", "account_uuid", "user_id")
MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()


class TooManyTokens(Exception):
    """The person has as many usable API tokens as one may; revoke one no longer used."""

    def __init__(self, usable: int):
        super().__init__(usable)
        self.usable = usable


class UserNotFound(Exception):
    """No user of this org has that email."""


class UserExists(Exception):
    """A user with that email already exists in this org."""


class LastAdmin(Exception):
    """The org's only admin cannot be removed or given another role: nobody would be left
    to manage its people, tokens and content. Make another admin first."""


class InvalidEmail(Exception):
    """That is not an email address."""


class WeakPassword(Exception):
    """A password too short, or of spaces only; its message says the rule."""

    def __init__(self):
        super().__init__(f"A password has at least {MIN_PASSWORD_LENGTH} characters, "
                         "and not only spaces.")


class InvalidIdentity(Exception):
    """An identity is account_uuid:<value>, user_id:<value> or email:<value>."""


@dataclass
class User:
    org_id: int
    user_id: int
    email: str
    role: str
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_whole_org(self) -> bool:
        """Whether their reports and sessions are the whole org's, not only their own."""
        return self.role in WHOLE_ORG_ROLES


@dataclass
class UserTokenInfo:
    token_id: int
    user_id: int
    name: str
    token_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None     # None: it never expires
    reads_content: bool             # may read content (migration 0035)

    def state(self, now: datetime) -> str:
        """"revoked", "expired" or "active" at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass
class ResolvedUserToken:
    org_id: int
    token_id: int
    revoked: bool
    expired: bool
    user_id: int
    email: str
    role: str
    reads_content: bool


def normalise_email(email: str) -> str:
    """Return the email lower-cased and trimmed. Raises InvalidEmail."""
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and domain) or any(c.isspace() for c in email):
        raise InvalidEmail()
    return email


def create_user(conn: psycopg.Connection, org_id: int, email: str, role: str) -> User:
    """Create a user and return it. Raises InvalidEmail or UserExists."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    try:
        with org_transaction(conn, org_id), conn.cursor(row_factory=class_row(User)) as cur:
            return cur.execute(query("user_insert"), {
                "org_id": org_id, "email": normalise_email(email), "role": role}).fetchone()
    except psycopg.errors.UniqueViolation:
        raise UserExists() from None


def find_user(conn: psycopg.Connection, org_id: int, email: str) -> User:
    """Return the org's user with ``email``. Raises UserNotFound."""
    with org_transaction(conn, org_id), conn.cursor(row_factory=class_row(User)) as cur:
        user = cur.execute(query("user_by_email"), {
            "org_id": org_id, "email": normalise_email(email)}).fetchone()
    if user is None:
        raise UserNotFound()
    return user


def list_users(conn: psycopg.Connection, org_id: int) -> list[User]:
    """Return the org's users by email."""
    with org_transaction(conn, org_id), conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(query("user_list"), {"org_id": org_id}).fetchall()


def delete_user(conn: psycopg.Connection, user: User) -> dict[str, Any]:
    """Delete a user with their tokens and linked identities; return what went with them
    (for the audit row): {"identities": ["kind:value", ...], "usable_tokens": n}."""
    with org_transaction(conn, user.org_id):
        _lock(conn, user)
        linked = seat_identities(conn, user)
        dropped = {
            "identities": [f"{kind}:{value}" for kind in ("account_uuid", "user_id", "email")
                           for value in linked[kind] if (kind, value) != ("email", user.email)],
            "usable_tokens": _usable_tokens(conn, user)}
        conn.execute(query("user_delete"), {"org_id": user.org_id, "user_id": user.user_id})
    return dropped


def lock_admins(conn: psycopg.Connection, org_id: int) -> list[int]:
    """Return the user ids of the org's admins, holding their rows until the transaction
    ends."""
    with org_transaction(conn, org_id):
        return [row[0] for row in conn.execute(query("user_admins_lock"), {"org_id": org_id})]


def check_admin_remains(conn: psycopg.Connection, user: User) -> None:
    """Raise LastAdmin when ``user`` is the org's only admin, holding the org's admins until
    the transaction ends, so two removals at once cannot both pass. Call inside the
    transaction that removes or demotes them."""
    admins = lock_admins(conn, user.org_id)
    if admins == [user.user_id]:
        raise LastAdmin()


def set_role(conn: psycopg.Connection, user: User, role: str) -> None:
    """Change a user's role."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    with org_transaction(conn, user.org_id):
        conn.execute(query("user_set_role"),
                     {"org_id": user.org_id, "user_id": user.user_id, "role": role})


def set_password(conn: psycopg.Connection, user: User, password: str) -> None:
    """Store an argon2id hash of the user's dashboard password. Raises WeakPassword."""
    if len(password) < MIN_PASSWORD_LENGTH or not password.strip():
        raise WeakPassword()
    with org_transaction(conn, user.org_id):
        conn.execute(query("user_set_password"), {
            "org_id": user.org_id, "user_id": user.user_id,
            "password_hash": _hasher.hash(password)})
        # No password link outlives the password it was made to replace.
        conn.execute(query("password_links_void"),
                     {"org_id": user.org_id, "user_id": user.user_id})


def check_password(conn: psycopg.Connection, org_id: int, email: str, password: str) -> User | None:
    """Return the user when ``password`` is theirs, else None (also for unknown emails)."""
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    with org_transaction(conn, org_id):
        row = conn.execute(query("user_password_hash"),
                           {"org_id": org_id, "email": email}).fetchone()
    if row is None or row[1] is None:
        # Spend the same time as a real check so timing does not reveal which emails exist.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(row[1], password)
    except (VerificationError, InvalidHashError):
        return None
    return find_user(conn, org_id, email)


def parse_identity(text: str) -> tuple[str, str]:
    """Return (kind, value) of ``account_uuid:...``, ``user_id:...`` or ``email:...``.

    Raises InvalidIdentity, or InvalidEmail for an ``email:`` that is not an address.
    """
    kind, sep, value = text.partition(":")
    value = value.strip()
    if not sep or kind not in IDENTITY_KINDS or not value:
        raise InvalidIdentity()
    return kind, normalise_email(value) if kind == "email" else value


def link_identity(conn: psycopg.Connection, user: User, kind: str, value: str) -> None:
    """Link a seat identity to the user, moving it from whoever had it."""
    with org_transaction(conn, user.org_id):
        conn.execute(query("user_identity_link"), {
            "org_id": user.org_id, "user_id": user.user_id, "kind": kind, "value": value})


def unlink_identity(conn: psycopg.Connection, user: User, kind: str, value: str) -> None:
    """Unlink a seat identity from the user. Raises LookupError if it is not theirs."""
    with org_transaction(conn, user.org_id):
        unlinked = conn.execute(query("user_identity_unlink"), {
            "org_id": user.org_id, "user_id": user.user_id, "kind": kind,
            "value": value}).fetchone()
    if unlinked is None:
        raise LookupError(f"{kind}:{value}")


def identity_holder(conn: psycopg.Connection, org_id: int, kind: str, value: str) -> str | None:
    """Return the email of the person a seat identity is linked to, or None."""
    with org_transaction(conn, org_id):
        found = conn.execute(query("user_identity_holder"),
                             {"org_id": org_id, "kind": kind, "value": value}).fetchone()
    return None if found is None else found[0]


def seat_identities(conn: psycopg.Connection, user: User) -> dict[str, list[str]]:
    """Return the seat identities that are the user's, by kind (their email included)."""
    identities = {"email": [user.email], "account_uuid": [], "user_id": []}
    with org_transaction(conn, user.org_id):
        for kind, value in conn.execute(query("user_identity_list"),
                                        {"org_id": user.org_id, "user_id": user.user_id}):
            identities[kind].append(value)
    return identities


def create_user_token(conn: psycopg.Connection, user: User, name: str,
                      expires_at: datetime | None = None, max_usable: int | None = None,
                      reads_content: bool = False) -> str:
    """Create a personal access token (``mut_...``) for the user, refused from
    ``expires_at`` on (None: never), and return it; it reads content (what its user may)
    only with ``reads_content``. Raises TooManyTokens when the user has ``max_usable``
    usable tokens already (counted while their row is held)."""
    token = tokens.generate(tokens.USER_PREFIX)
    with org_transaction(conn, user.org_id):
        _lock(conn, user)
        if max_usable is not None:
            usable = _usable_tokens(conn, user)
            if usable >= max_usable:
                raise TooManyTokens(usable)
        conn.execute(query("user_token_insert"), {
            "org_id": user.org_id, "user_id": user.user_id, "name": name,
            "token_prefix": tokens.visible_prefix(token), "token_digest": tokens.digest(token),
            "expires_at": expires_at, "reads_content": reads_content})
    return token


def list_user_tokens(conn: psycopg.Connection, user: User) -> list[UserTokenInfo]:
    """Return the user's tokens, oldest first."""
    with org_transaction(conn, user.org_id), \
            conn.cursor(row_factory=class_row(UserTokenInfo)) as cur:
        return cur.execute(query("user_token_list"),
                           {"org_id": user.org_id, "user_id": user.user_id}).fetchall()


def _usable_tokens(conn: psycopg.Connection, user: User) -> int:
    """How many of the user's tokens are neither revoked nor expired."""
    now = datetime.now(UTC)
    return sum(token.state(now) == "active" for token in list_user_tokens(conn, user))


def revoke_user_token(conn: psycopg.Connection, user: User, id_or_prefix: str) -> UserTokenInfo:
    """Revoke one of the user's tokens by id or prefix. Raises LookupError if not exactly
    one matches, and tokens.AlreadyRevoked, changing nothing, if it was revoked before."""
    token_id = tokens.typed_id(id_or_prefix)
    with org_transaction(conn, user.org_id), \
            conn.cursor(row_factory=class_row(UserTokenInfo)) as cur:
        matches = cur.execute(query("user_token_find"), {
            "org_id": user.org_id, "user_id": user.user_id, "token_id": token_id,
            "token_prefix": id_or_prefix}).fetchall()
        if len(matches) != 1:
            raise LookupError(id_or_prefix)
        if matches[0].revoked_at is not None:
            raise tokens.AlreadyRevoked(matches[0].token_prefix, matches[0].revoked_at)
        return cur.execute(query("user_token_revoke"), {
            "org_id": user.org_id, "token_id": matches[0].token_id}).fetchone()


def revoke_all_user_tokens(conn: psycopg.Connection, user: User) -> list[UserTokenInfo]:
    """Revoke every usable token of the user; return those revoked (none: an empty list)."""
    with org_transaction(conn, user.org_id), \
            conn.cursor(row_factory=class_row(UserTokenInfo)) as cur:
        _lock(conn, user)
        return cur.execute(query("user_token_revoke_all"),
                           {"org_id": user.org_id, "user_id": user.user_id}).fetchall()


def _lock(conn: psycopg.Connection, user: User) -> None:
    """Hold the user's row until the transaction ends. Raises UserNotFound once removed."""
    if conn.execute(query("user_lock"), {"org_id": user.org_id,
                                         "user_id": user.user_id}).fetchone() is None:
        raise UserNotFound()


def resolve_user_token(conn: psycopg.Connection, token: str) -> ResolvedUserToken | None:
    """Return the user a presented ``mut_`` token belongs to, or None when unknown.

    The token row is found by digest alone (row-level security lets a transaction see the
    rows whose digest it names); the user is then read under the token's own org.
    """
    digest = tokens.digest(token)
    with conn.transaction():
        conn.execute(query("transaction_token_digest"), {"digest": digest.hex()})
        found = conn.execute(query("user_token_resolve"), {"token_digest": digest}).fetchone()
        if found is None:
            return None
        org_id, token_id, user_id, revoked, expired, reads_content = found
        conn.execute(query("transaction_org"), {"org_id": str(org_id)})
        user = conn.execute(query("user_by_id"), {"org_id": org_id, "user_id": user_id}).fetchone()
        if user is None:
            return None
        if not (revoked or expired):
            conn.execute(query("user_token_touch"), {"org_id": org_id, "token_id": token_id})
    return ResolvedUserToken(org_id=org_id, token_id=token_id, revoked=revoked,
                             expired=expired, user_id=user_id, email=user[0], role=user[1],
                             reads_content=reads_content)


# -- password links ----------------------------------------------------------------------
# A one-time link with which a person sets their own password (mojule/dashboard/
# password_link.py): only its digest is stored, it works once, and a newer link or any
# password set ends it.
PASSWORD_LINK_LIFETIME = timedelta(hours=72)


class LinkNotUsable(Exception):
    """This link is unknown, used, replaced by a newer one or expired: ask an admin of
    your organization for a new one."""


def create_password_link(conn: psycopg.Connection, user: User,
                         lifetime: timedelta = PASSWORD_LINK_LIFETIME) -> tuple[str, datetime]:
    """Make a link secret with which ``user`` sets their password; return it and when it
    expires. Their older links stop working."""
    secret = tokens.generate(tokens.PASSWORD_LINK_PREFIX)
    expires_at = datetime.now(UTC) + lifetime
    params = {"org_id": user.org_id, "user_id": user.user_id}
    with org_transaction(conn, user.org_id):
        _lock(conn, user)
        conn.execute(query("password_links_forget"), {"org_id": user.org_id})
        conn.execute(query("password_links_void"), params)
        conn.execute(query("password_link_insert"), {
            **params, "link_digest": tokens.digest(secret), "expires_at": expires_at})
    return secret, expires_at


def void_password_links(conn: psycopg.Connection, user: User) -> int:
    """End the user's usable password links; return how many there were."""
    with org_transaction(conn, user.org_id):
        return conn.execute(query("password_links_void"),
                            {"org_id": user.org_id, "user_id": user.user_id}).rowcount


def password_link_user(conn: psycopg.Connection, secret: str) -> User:
    """Return the person a usable link names. Raises LinkNotUsable."""
    with conn.transaction():
        return _link_user(conn, secret)


def use_password_link(conn: psycopg.Connection, secret: str, password: str) -> User:
    """Set the password of the person a usable link names, which ends the link; return
    them. Raises LinkNotUsable or WeakPassword, changing nothing."""
    with conn.transaction():
        user = _link_user(conn, secret)
        set_password(conn, user, password)
    return user


def _link_user(conn: psycopg.Connection, secret: str) -> User:
    # As resolve_user_token: the row is found by digest alone, then read under its org;
    # FOR UPDATE holds it, so that of two uses at once the second finds it used.
    if not tokens.is_well_formed(secret, tokens.PASSWORD_LINK_PREFIX):
        raise LinkNotUsable()
    digest = tokens.digest(secret)
    conn.execute(query("transaction_token_digest"), {"digest": digest.hex()})
    found = conn.execute(query("password_link_resolve"), {"link_digest": digest}).fetchone()
    if found is None:
        raise LinkNotUsable()
    org_id, user_id = found
    conn.execute(query("transaction_org"), {"org_id": str(org_id)})
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(query("user_by_id_full"),
                           {"org_id": org_id, "user_id": user_id}).fetchone()
