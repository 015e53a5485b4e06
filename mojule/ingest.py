"""The signal-agnostic half of ingest: a batch of rows, and storing it in one transaction.

The signal modules (logs, metrics, traces) turn decoded OTLP records into a Batch; this
module writes the batch: rows are COPY'd into a per-connection staging table and moved
into place with ON CONFLICT DO NOTHING, so a retried export stores nothing twice; content
is encrypted only for the records that were new; the sessions table is brought up to date.
Nothing is acknowledged before COMMIT.
"""
from __future__ import annotations

import functools
import json
import logging
import weakref
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from time import time_ns
from typing import Any

import orjson
import psycopg

from mojule import rollup
from mojule.content import METADATA_PREFIX, SCOPE_PREFIX, ContentPolicy
from mojule.crypto import content_aad_for
from mojule.db import copy_rows, org_transaction, query
from mojule.keyring import Keyring
from mojule.usage import CONTEXT_KEYS, Context, context

log = logging.getLogger("mojule.ingest")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Records dated before this, or more than FUTURE_SLACK ahead of the server clock, are
# refused as malformed: they would only create stray monthly partitions.
EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=7)
SESSION_IDS_CAP = 100
# The OpenTelemetry Collector reads at most 64 KiB of an answer; session ids are UUIDs, but
# hostile ones could be 512 characters that JSON escapes to six bytes each.
SESSION_IDS_BYTES = 16 * 1024
SMALLINT_LIMIT = 2 ** 15

# Staging tables already created on a connection (temporary tables live per connection).
_staged: weakref.WeakKeyDictionary[psycopg.Connection, set[str]] = weakref.WeakKeyDictionary()


class Malformed(Exception):
    """The record cannot be stored."""


@dataclass
class SessionSeen:
    """What one batch saw of a session, folded into the sessions table at store time."""

    context: Context
    resource: dict
    first_seen: datetime
    last_seen: datetime
    agents_view: bool = False    # the `claude agents` UI process reported itself


@dataclass
class Batch:
    """Rows of one signal ready to store, with their content and the sessions they touch."""

    signal: str                  # "logs", "metrics" or "traces" (content AAD and counts)
    table: str                   # target table; sql/<table>_{stage,copy,insert}.sql exist
    identity_column: int         # where a row holds its record's identity (its record_id)
    rows: list[tuple] = field(default_factory=list)
    # Decoder identities, not yet keyed: store() turns each into its stored record_id.
    identities: set[bytes] = field(default_factory=set)
    # (identity, time, session id, content) per record with content; identity as above.
    content: list[tuple[bytes, datetime, str | None, dict[str, Any]]] = field(default_factory=list)
    sessions: dict[str, SessionSeen] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    # Work done once per resource and per session context rather than once per record.
    _resources: dict[int, tuple] = field(default_factory=dict, repr=False)
    _contexts: dict[tuple, Context] = field(default_factory=dict, repr=False)

    def resource_view(self, policy: ContentPolicy, resource: dict) -> tuple[dict, dict, str]:
        """Return a resource's (usage attributes, content by ``resource.<key>``, usage JSON).

        The decoder shares one resource dict among its records, so this is worked out
        once per resource; the dict is kept referenced so its id cannot be reused.
        """
        cached = self._resources.get(id(resource))
        if cached is None:
            usage, content = policy.split_resource(resource)
            cached = self._resources[id(resource)] = (resource, usage, content, jsonb(usage))
        return cached[1], cached[2], cached[3]

    def context(self, attributes: dict, resource: dict) -> Context:
        """Return the session, seat and client of a record, worked out once per distinct set."""
        try:
            key = (id(resource), *map(attributes.get, CONTEXT_KEYS))
            cached = self._contexts.get(key)
        except TypeError:           # an unhashable (list or map) identity attribute
            return context(attributes, resource)
        if cached is None:
            cached = self._contexts[key] = context(attributes, resource)
        return cached
    accepted: int = 0            # records added, repeats within the request included

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def add(self, row: tuple, identity: bytes, time: datetime, context: Context,
            resource: dict, content: dict[str, Any]) -> None:
        """Add one record's row (in COPY column order) and what goes with it.

        A record repeated within the request is the same record: it is kept once and
        counted as a duplicate, as it would be had it come in a second request.
        """
        self.accepted += 1
        if identity in self.identities:
            return
        self.rows.append(row)
        self.identities.add(identity)
        if content:
            self.content.append((identity, time, context.session_id, content))
        if context.session_id:
            seen = self.sessions.get(context.session_id)
            if seen is None:
                self.sessions[context.session_id] = SessionSeen(context, resource, time, time)
            else:
                seen.first_seen = min(seen.first_seen, time)
                seen.last_seen = max(seen.last_seen, time)
                if seen.context.seat.yields_to(context.seat):
                    seen.context = context

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def tables(self) -> tuple[str, ...]:
        """The partitioned tables the batch writes to."""
        return (self.table, "content_values") if self.content else (self.table,)


@dataclass
class Stored:
    inserted: int                # records new to the database
    duplicates: int              # records it already had (retried exports, repeats)


EARLIEST_NS = int((EARLIEST - EPOCH).total_seconds()) * 10**9
FUTURE_SLACK_NS = int(FUTURE_SLACK.total_seconds()) * 10**9


def timestamp(nanos: int) -> datetime:
    """Return the UTC datetime of a Unix-nanosecond timestamp. Raises Malformed out of range."""
    if nanos < EARLIEST_NS or nanos > time_ns() + FUTURE_SLACK_NS:
        raise Malformed("timestamp out of range")
    return EPOCH + timedelta(microseconds=nanos // 1000)


def enum(value: int) -> int:
    """Return an OTLP enum value for a smallint column; 0 (unspecified) if it cannot hold it.

    The decoder keeps unknown enum numbers for newer clients, up to 32 bits; a number
    past the column's range is garbage, and storing it would fail the whole batch.
    """
    return value if -SMALLINT_LIMIT <= value < SMALLINT_LIMIT else 0


# The attribute dicts otlp_extra may hold, and the prefix their content is stored under.
EXTRA_ATTRIBUTES = {"scope_attributes": SCOPE_PREFIX, "metadata": METADATA_PREFIX}


def otlp_extra(policy: ContentPolicy, scope_extra: dict[str, Any],
               **sent: Any) -> tuple[str | None, dict[str, Any]]:
    """Return (the otlp_extra column, content taken from it) of one record.

    otlp_extra keeps what OTLP sent that has no column of its own, and only what was sent
    (flags, trace state, the counts of dropped attributes, events and links, the metric's
    description and metadata, a point's exemplars and non-finite value, the schema URLs
    and attributes of the resource and scope): NULL for a record that sent none. Content
    in the scope's attributes is split out as ``scope.<key>``, as a resource's is, and
    content in a metric's metadata as ``metadata.<key>``; exemplars come with theirs split
    out already (ContentPolicy.split_parts). A text as long as content (a description, a
    trace state) is content too, as ``otlp.<name>`` (ContentPolicy.take_long_text).
    """
    extra = {name: value for name, value in sent.items() if value}
    extra.update(scope_extra)
    content = {}
    for name in [name for name, value in extra.items() if type(value) is str]:
        if policy.take_long_text(content, name, extra[name]) is None:
            del extra[name]
    for name, prefix in EXTRA_ATTRIBUTES.items():
        attributes = extra.get(name)
        if attributes:
            usage, taken = policy.split(attributes)
            extra[name] = usage
            content.update({prefix + key: value for key, value in taken.items()})
    return (jsonb(extra) if extra else None), content


def scope_columns(policy: ContentPolicy, record: Any,
                  content: dict[str, Any]) -> tuple[str | None, str | None]:
    """Return a record's scope name and version for their columns: None when empty, or
    when as long as content, which then holds them (ContentPolicy.take_long_text)."""
    return (policy.take_long_text(content, "scope_name", record.scope_name) or None,
            policy.take_long_text(content, "scope_version", record.scope_version) or None)


@functools.lru_cache(maxsize=1024)
def _text_array(keys: tuple[str, ...]) -> str:
    # Every element quoted, backslash and double quote escaped: array_in reads any text so.
    return "{" + ",".join('"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for key in keys) + "}"


def content_keys(content: dict[str, Any]) -> str:
    """Return the content_keys column of a record: its content's keys, sorted, as a text[]
    literal. A batch repeats a few key sets, and psycopg's list adapter costs a COPY of 512
    rows 1.2 ms; the literal is made once per key set (of a few keys: the cache stays small).
    """
    keys = tuple(sorted(content))
    return _text_array(keys) if len(keys) <= 8 else _text_array.__wrapped__(keys)


def jsonb(value: Any) -> str:
    """Serialise an attribute dict for a jsonb column. Raises Malformed if it cannot be."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        raise Malformed("attributes cannot be stored as JSON") from None


class Partitions:
    """The monthly partitions one worker knows exist, so the check is free on the hot path."""

    def __init__(self):
        self.known: set[tuple[str, date]] = set()

    def ensure(self, conn: psycopg.Connection, batch: Batch) -> None:
        """Create the partitions the batch's rows need (outside any transaction).

        Creating a partition locks its parent table; that lock should not be held for
        the length of an ingest transaction.
        """
        # Every COPY row starts (org_id, time, ...): the partitioning column is second.
        months = {row[1].date().replace(day=1) for row in batch.rows}
        for parent in batch.tables:
            for month in months:
                if (parent, month) not in self.known:
                    conn.execute(query("partition_ensure"), {"parent": parent, "day": month})
                    self.known.add((parent, month))


def store(conn: psycopg.Connection, org_id: int, batch: Batch, keyring: Keyring,
          partitions: Partitions, unattributed_orgs: rollup.UnattributedOrgs) -> Stored:
    """Store ``batch`` for ``org_id`` in one transaction and return what was new."""
    if not batch.rows:
        return Stored(0, 0)
    partitions.ensure(conn, batch)
    for table in batch.tables:
        _ensure_staging(conn, table)
    try:
        with org_transaction(conn, org_id):
            record_key = keyring.record_key(conn, org_id)
            record_ids = {identity: record_key.record_id(identity)
                          for identity in batch.identities}
            copy_rows(conn, f"{batch.table}_copy",
                      keyed_rows(batch.rows, batch.identity_column, record_ids))
            inserted = {row[0] for row in conn.execute(query(f"{batch.table}_insert"))}
            new_content = [(record_id, *rest) for identity, *rest in batch.content
                           if (record_id := record_ids[identity]) in inserted]
            if new_content:
                _store_content(conn, keyring, org_id, batch.signal, new_content)
            unattributed = {session_id: seen.context.seat.identity
                            for session_id, seen in batch.sessions.items()
                            if seen.context.unattributed}
            if unattributed:
                unattributed_orgs.note(org_id)
            # Most orgs never have an unattributed session: then no session needs the
            # seat locks or the flag checks of the rollup.
            flags_possible = unattributed_orgs.has_any(conn, org_id)
            readers = (_event_seats(batch) if batch.table == "log_events" and flags_possible
                       else set())
            rollup.lock_unattributed_seats(conn, org_id, set(unattributed.values()), readers)
            if batch.sessions:
                _upsert_sessions(conn, org_id, batch.sessions)
            # The usage rollup (mojule/rollup.py) counts the new rows in this same
            # transaction, so reports never see rows it does not hold, or the reverse.
            checks = rollup.record_inserted(conn, org_id, batch.table, inserted, unattributed,
                                            flags_possible,
                                            every_staged=len(inserted) == len(batch.rows))
    except BaseException:
        # The org's record-id key, first data key or next period's data key may have been
        # created, and cached, in this transaction: the rollback took it with it, so the
        # cache must not hand it out again.
        keyring.forget(org_id)
        raise
    try:
        rollup.recheck(conn, org_id, checks)
    except psycopg.Error:
        # The batch is committed and will be answered 202; `mojule purge` settles what
        # this second look would have.
        log.warning("ingest: the recheck of org %s's cost flags failed; the purge will "
                    "settle them", org_id, exc_info=True)
    return Stored(inserted=len(inserted), duplicates=batch.accepted - len(inserted))


def _event_seats(batch: Batch) -> set[str | None]:
    """The seats of a log batch's named sessions, whose events may flag the seats'
    unattributed sessions (rollup.record_inserted)."""
    return {seen.context.seat.identity for seen in batch.sessions.values()
            if not seen.context.unattributed and seen.context.seat.identity is not None}


def keyed_rows(rows: list[tuple], column: int,
               record_ids: dict[bytes, bytes]) -> Iterator[tuple]:
    """Yield the rows with the decoder's identity (in ``column``) as the stored record_id
    (``record_ids``: RecordKey.record_id of each identity)."""
    for row in rows:
        yield (*row[:column], record_ids[row[column]], *row[column + 1:])


def session_ids(batches: Sequence[Batch]) -> list[str]:
    """Return the distinct session ids the batches carried, capped to keep the answer small.

    Unattributed sessions are left out: no record named them.
    """
    listed, size = [], 0
    sent = {session_id for batch in batches for session_id, seen in batch.sessions.items()
            if not seen.context.unattributed}
    for session_id in sorted(sent):
        size += len(json.dumps(session_id))      # as the answer will spell it
        if len(listed) == SESSION_IDS_CAP or size > SESSION_IDS_BYTES:
            break
        listed.append(session_id)
    return listed


def _ensure_staging(conn: psycopg.Connection, table: str) -> None:
    # COPY cannot write to a table under row-level security, so rows go through a staging
    # table. It is created outside the ingest transaction (the connection is in autocommit):
    # one created inside would vanish with a rollback while still recorded here.
    staged = _staged.setdefault(conn, set())
    if table not in staged:
        conn.execute(query(f"{table}_stage"))
        staged.add(table)


def _store_content(conn: psycopg.Connection, keyring: Keyring, org_id: int,
                   signal: str, items: list) -> None:
    cipher = keyring.current_cipher(conn, org_id)
    dek_id = cipher.dek_id
    aad = content_aad_for(org_id, signal, dek_id)

    def rows():
        for record_id, time, session_id, content in items:
            for attribute, value in content.items():
                plaintext = orjson.dumps(value)
                yield (org_id, time, signal, record_id, attribute, session_id, dek_id,
                       cipher.encrypt(plaintext, aad(record_id, attribute)))

    copy_rows(conn, "content_values_copy", rows())
    conn.execute(query("content_values_insert"))


def _upsert_sessions(conn: psycopg.Connection, org_id: int, sessions: dict[str, SessionSeen]) -> None:
    # Sorted so two requests touching the same sessions lock them in the same order.
    params = []
    for session_id in sorted(sessions):
        seen = sessions[session_id]
        ctx, seat = seen.context, seen.context.seat
        params.append({
            "org_id": org_id, "session_id": session_id, "seat_identity": seat.identity,
            "user_email": seat.email, "user_account_uuid": seat.account_uuid,
            "user_id": seat.user_id, "organization_uuid": seat.organization_uuid,
            "first_seen": seen.first_seen, "last_seen": seen.last_seen,
            "app_version": ctx.app_version, "terminal_type": ctx.terminal_type,
            "service_name": ctx.service_name, "resource_attributes": jsonb(seen.resource),
            "unattributed": ctx.unattributed, "agents_view": seen.agents_view,
        })
    with conn.cursor() as cur:
        cur.executemany(query("session_upsert"), params)
