"""Orgs and their ingest tokens: database functions, connection first."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import psycopg.sql
from psycopg.rows import class_row, dict_row

from mojule import tokens
from mojule.db import org_transaction, query

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEFAULT_RETENTION_DAYS = 90


class OrgNotFound(Exception):
    """No org has that slug."""


class OrgUnderHold(Exception):
    """The org has active legal holds: deleting it would destroy content they keep."""

    def __init__(self, holds: int):
        super().__init__(holds)
        self.holds = holds


class OrgExists(Exception):
    """An org with that slug already exists."""


class InvalidSlug(Exception):
    """A slug is 1-63 lowercase letters, digits or dashes, starting with a letter or digit."""


class TokenNotFound(Exception):
    """No token of this org matches that id or prefix."""


class TokenRevoked(Exception):
    """That token is revoked: rotating it would only revive its name."""


class TokenReplaced(Exception):
    """That token was rotated already: its replacement is the one to rotate, unless it is
    revoked or expired too (``replacement_usable``)."""

    def __init__(self, replacement: IngestTokenInfo):
        super().__init__(replacement.token_prefix)
        self.replacement = replacement
        self.replacement_usable = replacement.state(datetime.now(UTC)) in ("active", "rotated")


@dataclass
class Org:
    org_id: int
    slug: str
    name: str
    retention_days: int
    created_at: datetime
    monthly_budget_usd: Decimal | None = None     # mojule/budget.py


@dataclass
class IngestTokenInfo:
    token_id: int
    name: str
    token_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    replaced_by: int | None = None   # the token_id of its replacement, once rotated

    def state(self, now: datetime) -> str:
        """"revoked", "expired", "rotated" (replaced, working until the overlap ends) or
        "active" at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active" if self.replaced_by is None else "rotated"


@dataclass
class ResolvedToken:
    org_id: int
    token_id: int
    revoked: bool
    expired: bool


def create_org(conn: psycopg.Connection, slug: str, name: str | None = None,
               retention_days: int = DEFAULT_RETENTION_DAYS) -> Org:
    """Create an org and return it. Raises InvalidSlug or OrgExists."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidSlug()
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(Org)) as cur:
            cur.execute(query("org_insert"),
                        {"slug": slug, "name": name or slug, "retention_days": retention_days})
            return cur.fetchone()
    except psycopg.errors.UniqueViolation:
        raise OrgExists() from None


def find_org(conn: psycopg.Connection, slug: str) -> Org:
    """Return the org with ``slug``. Raises OrgNotFound."""
    return _one_org(conn, "org_by_slug", {"slug": slug})


def find_org_by_id(conn: psycopg.Connection, org_id: int) -> Org:
    """Return the org with ``org_id``. Raises OrgNotFound."""
    return _one_org(conn, "org_by_id", {"org_id": org_id})


def _one_org(conn: psycopg.Connection, statement: str, params: dict) -> Org:
    with conn.cursor(row_factory=class_row(Org)) as cur:
        org = cur.execute(query(statement), params).fetchone()
    if org is None:
        raise OrgNotFound()
    return org


def create_ingest_token(conn: psycopg.Connection, org: Org, name: str,
                        expires_at: datetime | None = None) -> str:
    """Create an ingest token for ``org`` and return it; only its digest is stored.

    It is refused from ``expires_at`` on; None: it never expires.
    """
    return _insert_token(conn, org, name, expires_at)[0]


def _insert_token(conn: psycopg.Connection, org: Org, name: str,
                  expires_at: datetime | None) -> tuple[str, int]:
    """Store a new token's digest; return the token and its id."""
    token = tokens.generate(tokens.INGEST_PREFIX)
    with org_transaction(conn, org.org_id):
        (token_id,) = conn.execute(query("ingest_token_insert"), {
            "org_id": org.org_id, "name": name,
            "token_prefix": tokens.visible_prefix(token), "token_digest": tokens.digest(token),
            "expires_at": expires_at,
        }).fetchone()
    return token, token_id


# rotate_ingest_token's default: the new token lives as long as the old one was made to.
SAME_LIFETIME = object()


def rotate_ingest_token(conn: psycopg.Connection, org: Org, id_or_prefix: str,
                        old_expires_at: datetime, new_expires_at=SAME_LIFETIME
                        ) -> tuple[str, IngestTokenInfo]:
    """Replace the org's token given by id or prefix: return a new token of the same name
    and the old one, which now expires at ``old_expires_at`` (or sooner, if it did).

    The new token expires at ``new_expires_at`` (None: never); by default as long after
    now as the old one was made to last, so that a rotation keeps the org's token policy.
    One transaction: either both happen or neither. Raises TokenNotFound as
    revoke_ingest_token does, TokenRevoked for a revoked token, and TokenReplaced for one
    rotated already (its expiry is the overlap's end now, no lifetime to keep).
    """
    with org_transaction(conn, org.org_id):
        old = _find_one(conn, org, id_or_prefix)
        if old.revoked_at is not None:
            raise TokenRevoked()
        if old.replaced_by is not None:
            raise TokenReplaced(_find_one(conn, org, str(old.replaced_by)))
        if new_expires_at is SAME_LIFETIME:
            new_expires_at = (None if old.expires_at is None else
                              datetime.now(UTC) + (old.expires_at - old.created_at))
        token, token_id = _insert_token(conn, org, old.name, new_expires_at)
        with conn.cursor(row_factory=class_row(IngestTokenInfo)) as cur:
            old = cur.execute(query("ingest_token_replace"), {
                "org_id": org.org_id, "token_id": old.token_id, "expires_at": old_expires_at,
                "replaced_by": token_id,
            }).fetchone()
    return token, old


def list_ingest_tokens(conn: psycopg.Connection, org: Org) -> list[IngestTokenInfo]:
    """Return the org's ingest tokens, oldest first."""
    with org_transaction(conn, org.org_id), \
            conn.cursor(row_factory=class_row(IngestTokenInfo)) as cur:
        return cur.execute(query("ingest_token_list"), {"org_id": org.org_id}).fetchall()


def revoke_ingest_token(conn: psycopg.Connection, org: Org, id_or_prefix: str) -> IngestTokenInfo:
    """Revoke the org's token given by id or visible prefix and return it.

    Raises TokenNotFound when nothing, or more than one token, matches, and
    tokens.AlreadyRevoked, changing nothing, when it was revoked before: a second
    revocation is not a second event for the audit trail.
    """
    with org_transaction(conn, org.org_id), \
            conn.cursor(row_factory=class_row(IngestTokenInfo)) as cur:
        found = _find_one(conn, org, id_or_prefix)
        if found.revoked_at is not None:
            raise tokens.AlreadyRevoked(found.token_prefix, found.revoked_at)
        return cur.execute(query("ingest_token_revoke"), {
            "org_id": org.org_id, "token_id": found.token_id,
        }).fetchone()


def _find_one(conn: psycopg.Connection, org: Org, id_or_prefix: str) -> IngestTokenInfo:
    """The org's one token with that id or visible prefix; raises TokenNotFound."""
    token_id = tokens.typed_id(id_or_prefix)
    with conn.cursor(row_factory=class_row(IngestTokenInfo)) as cur:
        matches = cur.execute(query("ingest_token_find"), {
            "org_id": org.org_id, "token_id": token_id, "token_prefix": id_or_prefix,
        }).fetchall()
    if len(matches) != 1:
        raise TokenNotFound()
    return matches[0]


def resolve_ingest_token(conn: psycopg.Connection, token: str) -> ResolvedToken | None:
    """Return the org and token id an ingest token belongs to, or None when unknown.

    One round trip (the auth hook runs it on every ingest request): the SQL function finds
    the token by digest alone (row-level security lets a transaction see the rows whose
    digest it names) and records its last use at most once per 10 minutes.
    """
    with conn.cursor(row_factory=class_row(ResolvedToken)) as cur:
        return cur.execute(query("ingest_token_resolve"),
                           {"token_digest": tokens.digest(token)}).fetchone()


def set_org(conn: psycopg.Connection, org: Org, name: str | None = None,
            retention_days: int | None = None) -> Org:
    """Change an org's display name and/or content window; return the updated org."""
    with conn.transaction(), conn.cursor(row_factory=class_row(Org)) as cur:
        return cur.execute(query("org_update"), {
            "org_id": org.org_id, "name": name, "retention_days": retention_days}).fetchone()


def set_monthly_budget(conn: psycopg.Connection, org: Org,
                       budget_usd: Decimal | None) -> tuple[Org, Decimal | None]:
    """Set the org's monthly budget in dollars (None: no budget); return the updated org
    and the budget it replaced, as it was when this took the row."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query("org_budget_set"), {
            "org_id": org.org_id, "monthly_budget_usd": budget_usd}).fetchone()
    replaced = row.pop("replaced_usd")
    return Org(**row), replaced


# Tables holding an org's rows, deleted in this order after its data keys are destroyed.
ORG_TABLES = ("legal_holds", "content_values", "log_events", "metric_points", "spans", "usage_rollup",
              "session_usage", "usage_days", "usage_days_attributes", "usage_day_changes",
              "usage_days_built", "usage_recount", "sessions", "user_tokens",
              "user_identities", "users", "ingest_tokens", "record_keys", "sign_in_failures")


def delete_org(conn: psycopg.Connection, org: Org, on_step=None) -> dict[str, int]:
    """Delete an org: its data keys first (crypto-shredding), then its rows, then the org.

    Once the keys are gone the org's content is unreadable in this database. A backup taken
    before the deletion still holds the wrapped keys, and opens again with the same master
    key: docs/deploy/backup-restore.rst describes that erasure window. The audit trail
    stays. Returns the rows removed per table.
    """
    removed = {}
    with org_transaction(conn, org.org_id):
        # No hold may be placed from here until the keys are gone (their content with them).
        conn.execute(query("holds_lock"))
        _refuse_while_held(conn, org)
        removed["data_keys"] = conn.execute(query("org_delete_data_keys"),
                                            {"org_id": org.org_id}).rowcount
    for table in ORG_TABLES:
        with org_transaction(conn, org.org_id):
            removed[table] = conn.execute(
                psycopg.sql.SQL("DELETE FROM {} WHERE org_id = %(org_id)s").format(
                    psycopg.sql.Identifier(table)), {"org_id": org.org_id}).rowcount
        if on_step:
            on_step(table, removed[table])
    with conn.transaction():
        conn.execute(query("org_delete"), {"org_id": org.org_id})
    return removed


def check_deletable(conn: psycopg.Connection, org: Org) -> None:
    """Raise OrgUnderHold while legal holds keep any of the org's content: they are
    released first, each on the record (mojule/holds.py). delete_org checks again, under
    a lock, in the transaction that destroys the keys."""
    with org_transaction(conn, org.org_id):
        _refuse_while_held(conn, org)


def _refuse_while_held(conn: psycopg.Connection, org: Org) -> None:
    active = conn.execute(query("hold_active_count"), {"org_id": org.org_id}).fetchone()[0]
    if active:
        raise OrgUnderHold(active)


def list_orgs(conn: psycopg.Connection) -> list[Org]:
    """Return every org by slug."""
    with conn.cursor(row_factory=class_row(Org)) as cur:
        return cur.execute(query("org_list")).fetchall()
