"""Usage analytics for the read API and exports: sessions, one session's detail, usage.

These functions take the connection first, import nothing from Flask and return
JSON-ready values (times as ISO 8601 strings; ``cost_usd`` a six-place Decimal, which
Flask writes as a string), so the endpoints only parse parameters and shape the answer.
Each runs in the org's transaction (row-level security). The figures all come from the
accounting core in mojule/accounting.py, so a usage report adds up to its sessions.

Windows are half-open, [from_, to). A member passes ``seats`` (their seat identities, as
``people.seat_identities`` returns them) and sees only their own sessions.
"""
from __future__ import annotations

import base64
import binascii
import functools
import heapq
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from mojule import accounting
from mojule.accounting import ATTR_PREFIX, Scope
from mojule.db import query
from mojule.logs import EVENT_PREFIX

# What a usage report can be grouped by, besides attr:<resource attribute>.
GROUPS = ("day", "week", "month", "user", "model", "tool", "language", "terminal",
          "app_version", *accounting.SOURCE_ATTRIBUTES)
MAX_GROUP_LEVELS = 2
# Resource attributes a report or session list may be kept to (attr:team=payments ...).
MAX_ATTRIBUTE_FILTERS = 4
MAX_ATTRIBUTE_VALUE = 1024
# Resource attributes a sessions export adds a column for (attribute=team&attribute=...).
MAX_ATTRIBUTE_COLUMNS = 8
ATTR_KEY = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
MAX_EVENT_NAMES = 50
# The years a report's dates may name: a window reaches a day or a month past its ends
# (time zones, default lengths), which must stay within what datetime holds.
YEARS = range(1970, 9001)
MAX_PAGE = 500
TIMELINE_LIMIT = 1000
# The timeline's token columns, by the names the API's "tokens" objects use.
TIMELINE_TOKENS = {"input_tokens": "input", "output_tokens": "output",
                   "cache_read_tokens": "cache_read", "cache_creation_tokens": "cache_creation"}
# Per-session figures that only make sense for a group of sessions.
GROUP_ONLY = ("sessions", "active_users")

Seats = Mapping[str, Sequence[str]]


class BadParameter(ValueError):
    """A query parameter is invalid."""

    def __init__(self, parameter: str, problem: str):
        super().__init__(f"Invalid {parameter!r}: {problem}")
        self.parameter = parameter
        self.problem = problem


def usage(conn: psycopg.Connection, org_id: int, from_: datetime, to: datetime,
          group_by: Sequence[str] = (), tz: str = "UTC", seats: Seats | None = None,
          user: str | None = None,
          attributes: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Return the org's usage in [from_, to), one row per group, ordered by key.

    Each row: {"key": {group: value}, "cost_usd", "tokens": {input, output, cache_read,
    cache_creation}, "sessions", "active_users", "models", "api_requests", "api_errors",
    "api_retries_exhausted", "tool_calls", "tool_successes", "tool_failures",
    "tool_avg_duration_ms", "tool_decisions", "lines_added", "lines_removed", "commits",
    "pull_requests", "code_edit_decisions", "active_time_s", "active_time_by_type_s"}.
    Days, weeks (ISO, from Monday) and months are dates in ``tz``, a week's and a month's
    its first day. Cost, tokens and the other
    counts add up across rows to the sum of the sessions; ``sessions`` (those with
    activity in the row; `claude agents` UI processes are none) and ``active_users``
    (distinct seats) are distinct counts per row. Under ``model``, what Claude Code does
    not attribute to a model (active time, commits, tool calls) has the key None, and under
    ``tool`` all but tool calls and decisions (cost, tokens, lines, active time), and under
    ``language`` all but code-edit decisions. Under
    how requests were made (``query_source``, ``speed``, ``effort``:
    accounting.SOURCE_ATTRIBUTES), cost, tokens, API requests and API errors go to the
    value their request named, None for none, and all else to None.
    No groups gives one row of totals. ``attributes`` keeps the sessions whose resource
    attributes have those values (as group_by=attr:<key> reads them). Raises BadParameter
    naming the parameter.
    """
    scope, groups = usage_scope(from_, to, group_by, tz, seats, user, attributes)
    with accounting.transaction(conn, org_id):
        return accounting.report(conn, org_id, scope, groups, tz)


def usage_scope(from_: datetime, to: datetime, group_by: Sequence[str] = (),
                tz: str = "UTC", seats: Seats | None = None, user: str | None = None,
                attributes: Mapping[str, str] | None = None) -> tuple[Scope, list[str]]:
    """Return the scope and the validated groups of a usage report (see ``usage``).
    Raises BadParameter naming the parameter."""
    _check_window(from_, to)
    groups = check_group_by(group_by)
    _check_tz(tz)
    return Scope(from_, to, seats=seats, user=seat_user(user),
                 attributes=check_attributes(attributes)), groups


def emails_seen_with(conn: psycopg.Connection, org_id: int, seats: Iterable[str],
                     from_: datetime, to: datetime) -> dict[str, str]:
    """Return, for each seat named by an account or install id, the email that sessions in
    [from_, to) named beside it, if any: whose the id probably is. A hint for people to
    read: the id stays its own seat in every report."""
    ids = sorted({seat for seat in seats if seat and "@" not in seat})
    if not ids:
        return {}
    with accounting.transaction(conn, org_id):
        return dict(conn.execute(query("seat_emails_seen_with"), {
            "org_id": org_id, "seats": ids, "from": from_, "to": to}).fetchall())


def list_sessions(conn: psycopg.Connection, org_id: int, from_: datetime, to: datetime,
                  user: str | None = None, model: str | None = None,
                  seats: Seats | None = None, limit: int = 50,
                  cursor: str | None = None, attributes: Mapping[str, str] | None = None,
                  ) -> tuple[list[dict[str, Any]], str | None]:
    """Return a page of the sessions active in [from_, to), newest first, and the cursor
    of the next page (None on the last).

    Each row is a session's identity, client, first and last seen, and its figures in
    the window (as in ``usage``; the whole session when it lies inside the window).
    ``model`` keeps the sessions that used it, ignoring suffixes such as ``[1m]``;
    ``attributes`` those with these resource attribute values. Raises BadParameter
    naming the parameter.
    """
    _check_window(from_, to)
    check_limit(limit, MAX_PAGE)
    page = Scope(from_, to, seats=seats, user=seat_user(user), model=_model(model),
                 attributes=check_attributes(attributes),
                 after=_decode_cursor(cursor), limit=limit + 1)
    with accounting.transaction(conn, org_id):
        sessions = accounting.find_sessions(conn, org_id, page)
        more = len(sessions) > limit
        sessions = sessions[:limit]
        figures = {}
        if sessions:
            ids = [session["session_id"] for session in sessions]
            figures = {row["key"]["session"]: row for row in accounting.report(
                conn, org_id, Scope(from_, to, session_ids=ids), ["session"])}
    rows = [{**_session(session), **_per_session(figures.get(session["session_id"]))}
            for session in sessions]
    last = sessions[-1] if more else None
    return rows, None if last is None else _encode_cursor(last["last_seen"], last["session_id"])


def costliest_sessions(conn: psycopg.Connection, org_id: int, from_: datetime, to: datetime,
                       user: str | None = None, model: str | None = None,
                       seats: Seats | None = None, limit: int = 50,
                       attributes: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Return the ``limit`` sessions that cost the most in [from_, to), most first (then
    the most tokens, then by id), as ``list_sessions`` gives them and with its filters.

    Every session active in the window is costed to rank them, so there is no cursor:
    for all of them, there is the sessions export. Raises BadParameter naming the
    parameter.
    """
    _check_window(from_, to)
    check_limit(limit, MAX_PAGE)
    scope = Scope(from_, to, seats=seats, user=seat_user(user), model=_model(model),
                  attributes=check_attributes(attributes))
    with accounting.transaction(conn, org_id):
        figures = accounting.report(conn, org_id, scope, ["session"])
        ranked = heapq.nsmallest(limit, figures, key=lambda row: (
            -row["cost_usd"], -sum(row["tokens"].values()), row["key"]["session"]))
        ids = [row["key"]["session"] for row in ranked]
        found = accounting.find_sessions(conn, org_id, Scope(from_, to, session_ids=ids)) \
            if ids else []
    sessions = {session["session_id"]: session for session in found}
    return [{**_session(sessions[row["key"]["session"]]), **_per_session(row)}
            for row in ranked if row["key"]["session"] in sessions]


def session_totals(conn: psycopg.Connection, org_id: int, session_id: str,
                   seats: Seats | None = None,
                   timeline_limit: int = TIMELINE_LIMIT) -> dict[str, Any] | None:
    """Return one session's detail, or None when the org has no such session (or it is
    not one of ``seats``).

    {"session_id", "user": {seat_identity, email, account_uuid, user_id,
    organization_uuid}, "first_seen", "last_seen", "terminal_type", "app_version", the
    figures of ``usage`` for the whole session, "tools": {name: {calls, successes,
    failures, avg_duration_ms, accepted, rejected}}, "code_edits": [{tool_name, language,
    accepted, rejected}], "timeline": [{time, event_name, ..., content_keys}],
    "timeline_truncated", "spans"}. The timeline carries no content, only its attribute
    names; "spans" counts its spans, which ``span_trees.session_traces`` shows.
    """
    scope = Scope(seats=seats, session_ids=[session_id], limit=1)
    with accounting.transaction(conn, org_id):
        found = accounting.find_sessions(conn, org_id, scope)
        if not found:
            return None
        (totals,) = accounting.report(conn, org_id, scope, [])
        by_tool = accounting.report(conn, org_id, scope, ["tool", "language"])
        with conn.cursor(row_factory=dict_row) as cur:
            events = cur.execute(query("analytics_session_timeline"), {
                "org_id": org_id, "session_id": session_id, "limit": timeline_limit + 1,
            }).fetchall()
            (spans,) = cur.execute(query("analytics_session_span_count"), {
                "org_id": org_id, "session_id": session_id}).fetchone().values()
    tools, code_edits = tool_figures(by_tool)
    return {
        **_session(found[0]),
        **_per_session(totals),
        "tools": tools,
        "code_edits": code_edits,
        "timeline": [_timeline_entry(event) for event in events[:timeline_limit]],
        "timeline_truncated": len(events) > timeline_limit,
        "spans": spans,
    }


def check_group_by(group_by: Sequence[str]) -> list[str]:
    """Return the validated groups. Raises BadParameter("group_by", ...)."""
    if isinstance(group_by, str):
        group_by = [group_by]
    groups = list(group_by)
    if len(groups) > MAX_GROUP_LEVELS:
        raise BadParameter("group_by", f"at most {MAX_GROUP_LEVELS} levels of grouping")
    if len(set(groups)) != len(groups):
        raise BadParameter("group_by", "a group is repeated")
    for group in groups:
        if not isinstance(group, str):
            raise BadParameter("group_by", "groups are names")
        if group.startswith(ATTR_PREFIX):
            if not ATTR_KEY.fullmatch(group.removeprefix(ATTR_PREFIX)):
                raise BadParameter("group_by", f"{group!r} does not name a resource attribute")
        elif group not in GROUPS:
            raise BadParameter("group_by", f"unknown group {group!r}; use one of "
                               f"{', '.join(GROUPS)} or attr:<resource attribute>")
    sources = [group for group in groups if group in accounting.SOURCE_ATTRIBUTES]
    if len(sources) > 1:
        raise BadParameter("group_by", f"{' and '.join(sources)} cannot be grouped together;"
                           " pick one of them")
    return groups


def _check_window(from_: datetime, to: datetime) -> None:
    for name, moment in (("from", from_), ("to", to)):
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            raise BadParameter(name, "must be a date and time with a time zone")
    if to <= from_:
        raise BadParameter("to", "must be after 'from'")


def _check_tz(tz: str) -> None:
    problem = time_zone_problem(tz)
    if problem:
        raise BadParameter("tz", problem)


# Zone names that PostgreSQL reads as abbreviations of a fixed UTC offset (it looks for
# an abbreviation first: pg_timezone_abbrevs) while the zone itself keeps summer time.
# Days in 'CET' would end at midnight +01 all year in SQL, at +02 in summer in Python.
ABBREVIATED_ZONES = frozenset({"CET", "EET", "MET", "WET"})


@functools.cache
def _zone_names() -> frozenset[str]:
    # The IANA names, without the tz database's posix/ and right/ copies, which
    # PostgreSQL does not know; "localtime" is the machine's zone, not a name.
    return frozenset(zoneinfo.available_timezones()) - {"localtime"}


def time_zone_problem(name: Any) -> str | None:
    """Return why ``name`` cannot be a report's time zone, or None when it can: an IANA
    name that Python and PostgreSQL read alike (day boundaries are cut in both)."""
    if not isinstance(name, str) or name not in _zone_names():
        return f"unknown time zone {name!r}"
    if name in ABBREVIATED_ZONES:
        return (f"{name!r} is also an abbreviation PostgreSQL reads as a fixed UTC offset; "
                "name a region instead, such as Europe/Berlin")
    return None


def listed(values: Iterable[str]) -> list[str]:
    """Return the items of a repeated, or comma-separated, parameter (``group_by``,
    ``event``) as the API and the CLI take them: stripped, empty ones dropped."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def check_attribute_keys(keys: Sequence[str], parameter: str = "attribute") -> list[str]:
    """Return the resource attribute keys an export adds a column for. Raises
    BadParameter(parameter, ...)."""
    if len(keys) > MAX_ATTRIBUTE_COLUMNS:
        raise BadParameter(parameter, f"at most {MAX_ATTRIBUTE_COLUMNS} attribute columns")
    if len(set(keys)) != len(keys):
        raise BadParameter(parameter, "an attribute is repeated")
    for key in keys:
        if not ATTR_KEY.fullmatch(key):
            raise BadParameter(parameter, f"{key[:140]!r} does not name a resource attribute")
    return list(keys)


def check_event_names(names: Sequence[str] | None) -> list[str] | None:
    """Return the event names to keep as stored (``claude_code.`` prefix removed, as
    ingest removes it), or None for every event. Raises BadParameter("event", ...)."""
    if not names:
        return None
    if isinstance(names, str) or len(names) > MAX_EVENT_NAMES:
        raise BadParameter("event", f"give 1 to {MAX_EVENT_NAMES} event names")
    kept = []
    for name in names:
        if not isinstance(name, str) or not EVENT_NAME.fullmatch(name):
            raise BadParameter("event", f"{name!r} is not an event name "
                               "(such as api_request or permission_mode_changed)")
        short = name.removeprefix(EVENT_PREFIX)
        kept.append(short or name)
    return sorted(set(kept))


def check_attributes(attributes: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Return resource attribute filters as a Scope keeps them, sorted by key. Raises
    BadParameter("attr:<key>", ...)."""
    attributes = attributes or {}
    if len(attributes) > MAX_ATTRIBUTE_FILTERS:
        raise BadParameter("attr:", f"at most {MAX_ATTRIBUTE_FILTERS} resource attributes "
                                    "to filter by")
    for key, value in attributes.items():
        parameter = f"{ATTR_PREFIX}{key}"
        if not ATTR_KEY.fullmatch(key):
            raise BadParameter(parameter[:140], "does not name a resource attribute")
        if not attribute_value_ok(value):
            raise BadParameter(parameter, f"the value must be 1 to {MAX_ATTRIBUTE_VALUE} "
                                          "characters, without NUL")
    return tuple(sorted(attributes.items()))


def attribute_value_ok(value: Any) -> bool:
    """True for a resource attribute value a filter can name: text of 1 to
    MAX_ATTRIBUTE_VALUE characters without NUL, as sessions keep them (tabs included)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_ATTRIBUTE_VALUE \
        and "\x00" not in value


def seat_user(user: str | None) -> str | None:
    """The ``user`` filter as seat identities are stored (emails lower-cased)."""
    return user.strip().lower() if user and "@" in user else user


def _model(model: str | None) -> str | None:
    return re.sub(r"\[[^\]]*\]$", "", model) if model else None


def check_limit(limit: int, highest: int) -> None:
    """Raise BadParameter("limit", ...) unless ``limit`` is a whole number 1..highest."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= highest:
        raise BadParameter("limit", f"must be a whole number from 1 to {highest}")


def encode_cursor(values: Sequence[Any]) -> str:
    """Return an opaque paging cursor that holds ``values`` (JSON, base64url)."""
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, parameter: str) -> Any:
    """Return the values ``encode_cursor`` put in ``cursor``, the parameter named
    ``parameter``. Raises BadParameter naming it for text that holds none."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        # A NUL can be in no cursor this API returned (PostgreSQL's text holds none).
        if b"\\u0000" in text:
            raise ValueError
        return orjson.loads(text)
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise BadParameter(parameter, f"not a {parameter} this API returned") from None


def _encode_cursor(last_seen: datetime, session_id: str) -> str:
    return encode_cursor([last_seen.isoformat(), session_id])


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    values = decode_cursor(cursor, "cursor")
    try:
        last_seen, session_id = values
        moment = datetime.fromisoformat(last_seen)
        if moment.utcoffset() is None or not isinstance(session_id, str):
            raise ValueError
    except (TypeError, ValueError):
        raise BadParameter("cursor", "not a cursor this API returned") from None
    return moment, session_id


def _session(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "session_id": row["session_id"],
        "user": {"seat_identity": row["seat_identity"], "email": row["user_email"],
                 "account_uuid": row["user_account_uuid"], "user_id": row["user_id"],
                 "organization_uuid": row["organization_uuid"]},
        "first_seen": row["first_seen"].isoformat(),
        "last_seen": row["last_seen"].isoformat(),
        "terminal_type": row["terminal_type"],
        "app_version": row["app_version"],
        # True for what a seat sent without session.id in one UTC day (migration 0008).
        "unattributed": row["unattributed"],
        # True for the process behind `claude agents` (migration 0009): not a session.
        "agents_view": row["agents_view"],
        # OTEL_RESOURCE_ATTRIBUTES and the SDK's own (service.*, os.*, host.*), content
        # taken out at ingest: what attr:<key> filters and groups by.
        "resource_attributes": row["resource_attributes"],
    }


def _per_session(figures: Mapping[str, Any] | None) -> dict[str, Any]:
    figures = figures or accounting.no_activity()
    return {name: value for name, value in figures.items()
            if name not in GROUP_ONLY and name != "key"}


def tool_figures(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, dict], list[dict]]:
    """Fold rows grouped by (tool, language) into tool figures and code-edit decisions.

    Tool calls and permission decisions (events) have no language, so all of a tool's are
    in its row without one; code-edit decisions (metrics) are split by language.
    """
    tools: dict[str, dict] = {}
    code_edits = []
    for row in rows:
        name, language = row["key"]["tool"], row["key"]["language"]
        if name is None:
            continue
        if row["tool_calls"] or any(row["tool_decisions"].values()):
            tools[name] = {
                "calls": row["tool_calls"], "successes": row["tool_successes"],
                "failures": row["tool_failures"],
                "avg_duration_ms": row["tool_avg_duration_ms"],
                "accepted": row["tool_decisions"]["accepted"],
                "rejected": row["tool_decisions"]["rejected"],
            }
        if any(row["code_edit_decisions"].values()):
            code_edits.append({"tool_name": name, "language": language,
                               **row["code_edit_decisions"]})
    return tools, code_edits


def _timeline_entry(event: Mapping[str, Any]) -> dict[str, Any]:
    # Fields an event does not have are left out: most events have few of them.
    entry = {name: value for name, value in event.items()
             if value is not None and name not in TIMELINE_TOKENS}
    tokens = {short: event[name] for name, short in TIMELINE_TOKENS.items()
              if event[name] is not None}
    if tokens:
        entry["tokens"] = tokens
    return {**entry, "time": event["time"].isoformat(), "content_keys": list(event["content_keys"])}
