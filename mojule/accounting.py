"""The accounting core: what an org's sessions cost and did, from analytics_usage.sql.

Every figure Mojule shows (a usage report, a row of the session list, a session's detail)
comes from the one statement in ``sql/analytics_usage.sql``, grouped differently, so the
figures agree with each other by construction. The statement holds the accounting rules
(which source a session's cost comes from, how metric points become deltas, how cost is
rounded); this module composes its grouping and shapes its rows.

Money: ``cost_usd`` is a ``Decimal`` with exactly six places (micro-dollars), never a float.
Flask's JSON provider writes a Decimal as a string ("0.016880"), so no micro-dollar is lost.
"""
from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from mojule.db import org_transaction, query

# A window that holds every record: a session's detail covers its whole life.
EVER_START = datetime.min.replace(tzinfo=UTC)
EVER_END = datetime.max.replace(tzinfo=UTC)

# The grouping columns of analytics_usage.sql, by group name. ``attr:<key>`` groups use
# key_attr_0 and key_attr_1 in the order they are asked for.
KEY_COLUMNS = {
    "day": "key_day",
    "week": "key_week",
    "month": "key_month",
    "user": "key_user",
    "model": "key_model",
    "terminal": "key_terminal",
    "app_version": "key_app_version",
    "session": "key_session",
    "tool": "key_tool",
    "language": "key_language",
}
# How a request was made, by group name: the attribute of Claude Code's api_request events
# and cost and token metrics that says it. The names of skills, agents, plugins and MCP
# servers that requests also carry are content (mojule/content.py), stored encrypted, so
# no report groups by them. They share the key column key_source: a report groups by one.
SOURCE_ATTRIBUTES = {
    "query_source": "query_source",     # metrics: main, subagent, auxiliary; events finer
    "speed": "speed",                   # fast mode costs more; metrics name only "fast"
    "effort": "effort",                 # low ... max
}
KEY_COLUMNS.update(dict.fromkeys(SOURCE_ATTRIBUTES, "key_source"))
ATTR_PREFIX = "attr:"
ATTR_COLUMNS = ("key_attr_0", "key_attr_1")

# Groups the statement is told of (its by_<group> parameters): it computes, or keeps, a
# key only for a report grouped by it, and knows that a user's groups are one seat's.
COMPUTED_KEYS = ("day", "week", "month", "user", "model", "terminal", "app_version", "session",
                 "tool", "language")
# usage_rollup's buckets (migration 0003): quarter hours from this origin.
BUCKET = timedelta(minutes=15)
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# What the rollup cannot group by: it keeps no tool, language or request source.
RAW_ONLY_GROUPS = frozenset({"tool", "language", *SOURCE_ATTRIBUTES})
DAY_GROUPS = frozenset({"day", "week", "month"})
# What usage_days (migration 0021) cannot group by: it keeps seats and models only, and
# usage_days_attributes (migration 0022) resource attributes too, but not by model, nor
# those of the process (the SQL function mojule_process_attribute, which the summing
# leaves out: ``process_attribute`` below knows the same).
UNSUMMED_GROUPS = frozenset({"terminal", "app_version", "session", "tool", "language",
                             *SOURCE_ATTRIBUTES})
PROCESS_ATTRIBUTES = frozenset({"service.version", "service.instance.id"})
PROCESS_ATTRIBUTE_PREFIX = "process."
DAY = timedelta(days=1)
# The years whose time zone offsets matter: ingest refuses records before 2015.
ZONE_YEARS = (2015, 2040)


@dataclass(frozen=True)
class Scope:
    """The sessions and the stretch of time [start, end) a report covers.

    ``seats`` restricts it to one person's sessions, in the shape of
    ``people.seat_identities``: {"email": [...], "account_uuid": [...], "user_id": [...]}.
    ``user`` keeps the sessions of one seat (its identity, email, account or install id);
    ``model`` the sessions that used a model (suffixes such as ``[1m]`` ignored);
    ``attributes`` the sessions whose resource attributes have these (key, value) pairs.
    """

    start: datetime = EVER_START
    end: datetime = EVER_END
    seats: Mapping[str, Sequence[str]] | None = None
    user: str | None = None
    model: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    session_ids: Sequence[str] | None = None
    after: tuple[datetime, str] | None = None   # keyset: (last_seen, session_id) seen last
    limit: int | None = None

    @property
    def filters_sessions(self) -> bool:
        """True when the scope keeps only some sessions: a person's, a seat's, a model's
        or a team's (resource attributes)."""
        return (self.seats is not None or self.user is not None or self.model is not None
                or bool(self.attributes))

    def params(self, org_id: int) -> dict[str, Any]:
        """Return the parameters analytics_sessions.sql and analytics_usage.sql expect."""
        seats = self.seats or {}
        return {
            "org_id": org_id,
            "from": self.start,
            "to": self.end,
            "session_ids": None if self.session_ids is None else list(self.session_ids),
            "user": self.user,
            "model": self.model,
            "attributes": Jsonb(dict(self.attributes)) if self.attributes else None,
            "all_seats": self.seats is None,
            "seat_emails": [email.lower() for email in seats.get("email", ())],
            "seat_account_uuids": list(seats.get("account_uuid", ())),
            "seat_user_ids": list(seats.get("user_id", ())),
            "after_last_seen": self.after[0] if self.after else None,
            "after_session_id": self.after[1] if self.after else None,
            "limit": self.limit,
        }


def grouping(groups: Sequence[str]) -> tuple[list[str], dict[str, str | None]]:
    """Return the key columns for ``groups`` and the attr_0/attr_1 parameters they need."""
    columns, attrs = [], dict.fromkeys(("attr_0", "attr_1"))
    free_attr_columns = iter(ATTR_COLUMNS)
    for group in groups:
        if group.startswith(ATTR_PREFIX):
            column = next(free_attr_columns)
            attrs[column.removeprefix("key_")] = group.removeprefix(ATTR_PREFIX)
        else:
            column = KEY_COLUMNS[group]
        columns.append(column)
    return columns, attrs


def source_attribute(groups: Sequence[str]) -> str | None:
    """Return the request attribute the report's source group reads (SOURCE_ATTRIBUTES),
    or None when it has none."""
    return next((SOURCE_ATTRIBUTES[group] for group in groups if group in SOURCE_ATTRIBUTES),
                None)


# How analytics_usage.sql reads the session_usage rows of the sessions it reads whole,
# by (``joins_sessions``, reads days from usage_days): all of them (session_usage), or,
# for a report given days to read from usage_days (``summed_days``, ``report_statement``),
# only the others (unsummed_usage; read for a list of sessions, its union would read a
# whole org's rows; only such a report has a non-empty `cover`); joined to their sessions
# in scope, or alone. Joined, all of a large org's rows meet its sessions in a hash join,
# while the few rows outside the summed days each find theirs through its key: the
# planner cannot know how few they are, and hashed a month's sessions for them.
SESSIONS_JOIN = {
    (True, False): "FROM session_usage AS w JOIN scope AS sc ON sc.session_id = w.session_id",
    (True, True): "FROM unsummed_usage AS w CROSS JOIN LATERAL ("
                  "SELECT scope.resource_attributes FROM scope"
                  " WHERE scope.session_id = w.session_id LIMIT 1) AS sc",
    (False, False): "FROM session_usage AS w, (SELECT NULL::jsonb AS resource_attributes) AS sc",
    (False, True): "FROM unsummed_usage AS w, (SELECT NULL::jsonb AS resource_attributes) AS sc",
}


# How analytics_usage.sql counts a group's active users: its distinct seats, counted in
# `grouped`, or, grouped by user, its key (every session of the group is that seat's; a
# NULL key is none).
ACTIVE_USERS = {
    False: "coalesce(seats, 0)::bigint",
    True: "(key_user IS NOT NULL)::integer",
}


# The groupings whose groups hold a handful of sessions each: a person's day, one session.
# analytics_usage.sql hands their whole sessions to its last aggregate one row each
# (whole_sessions): summing them per group first (whole_groups) would make hardly fewer
# rows, only one more aggregate (by day and user, the benchmark's biggest org has 77,814
# sessions in 21,545 groups). Coarser groups, even a person's week, gain from summing first.
WHOLE_SESSIONS = (frozenset({"key_day", "key_user"}), frozenset({"key_session"}))

# The grouping whose groups analytics_usage.sql may take as usage_days rows as they are
# (lone_days), when it reads days from usage_days: a seat's day is one totals row there.
# It must read its sessions through whole_sessions, which leaves out the rows it takes
# (whole_groups does not): one of WHOLE_SESSIONS.
LONE_DAYS = WHOLE_SESSIONS[0]


def statement(columns: Sequence[str], join_sessions: bool = True,
              reads_days: bool = False) -> sql.Composed:
    """Return the core statement grouped, and ordered, by the key ``columns``; its whole
    sessions joined to their sessions rows when ``join_sessions`` (``joins_sessions``),
    and read from usage_days where it can when ``reads_days`` (``summed_days``)."""
    names = [sql.Identifier(column) for column in columns]
    order = sql.SQL(", ").join(names)
    return sql.SQL(query("analytics_usage")).format(
        sessions=sql.SQL(query("analytics_sessions")),
        sessions_join=sql.SQL(SESSIONS_JOIN[join_sessions, reads_days]),
        active_users=sql.SQL(ACTIVE_USERS[KEY_COLUMNS["user"] in columns]),
        whole=sql.Identifier(_whole(columns)),
        key_columns=sql.SQL("").join(sql.SQL("{}, ").format(name) for name in names),
        group_by=order if names else sql.SQL("()"),
        group_order=sql.SQL("ORDER BY {}").format(order) if names else sql.SQL(""),
        order_by=sql.SQL("ORDER BY {}").format(order) if names else sql.SQL(""),
    )


def _whole(columns: Sequence[str]) -> str:
    """The CTE of analytics_usage.sql that reads the sessions read whole, for a grouping."""
    few = any(grouping <= set(columns) for grouping in WHOLE_SESSIONS)
    return "whole_sessions" if few else "whole_groups"


@contextmanager
def transaction(conn: psycopg.Connection, org_id: int) -> Iterator[psycopg.Connection]:
    """Run an analytics transaction: the org's (row-level security lets its rows through),
    read-only on one snapshot, so that its statements agree with each other, with room
    to sort in memory and no JIT compilation (sql/analytics_settings.sql)."""
    with org_transaction(conn, org_id, snapshot=True):
        conn.execute(query("analytics_settings"))
        yield conn


def find_sessions(conn: psycopg.Connection, org_id: int, scope: Scope) -> list[dict]:
    """Return the scope's sessions (identity, client, first and last seen), newest first.

    Like ``report``, runs in the caller's ``transaction``.
    """
    page = sql.SQL(query("analytics_sessions_page")).format(
        sessions=sql.SQL(query("analytics_sessions")))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(page, scope.params(org_id), prepare=False).fetchall()


def report(conn: psycopg.Connection, org_id: int, scope: Scope, groups: Sequence[str],
           tz: str = "UTC", use_rollup: bool = True) -> list[dict]:
    """Return one row per group of the scope's activity: {"key": {group: value}, measures}.

    ``groups`` are validated names (see KEY_COLUMNS, ``attr:<key>``); no groups gives one
    row of totals. Groups with no activity are absent. Whole quarter hours are read from
    usage_rollup where the grouping allows (see ``rollup_span``); ``use_rollup=False``
    reads every raw row instead, with the same result. The statement is planned for its
    actual parameters every time (prepare=False): a generic plan would read a whole org's
    history to find one session's rows. Runs in the caller's ``transaction``.
    """
    columns, _ = grouping(groups)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(*report_statement(org_id, scope, groups, tz, use_rollup),
                           prepare=False).fetchall()
    return [{"key": {group: _key(row[column]) for group, column in zip(groups, columns)},
             **measures(row)} for row in rows]


def report_statement(org_id: int, scope: Scope, groups: Sequence[str], tz: str = "UTC",
                     use_rollup: bool = True) -> tuple[sql.Composed, dict[str, Any]]:
    """Return the statement behind ``report`` and its parameters: its rows are one per
    group, the key columns (KEY_COLUMNS, ATTR_COLUMNS) then what ``measures`` reads."""
    columns, _ = grouping(groups)
    params = report_params(org_id, scope, groups, tz, use_rollup)
    return (statement(columns, joins_sessions(scope, groups), params["days_from"] is not None),
            params)


def _key(value: Any) -> Any:
    """Return a group's key as reports show it: days and weeks (dates in the statement,
    which compares them far faster than text) as YYYY-MM-DD."""
    return value.isoformat() if isinstance(value, date) else value


def report_params(org_id: int, scope: Scope, groups: Sequence[str], tz: str = "UTC",
                  use_rollup: bool = True) -> dict[str, Any]:
    """Return the parameters of ``statement`` for a report (see ``report``)."""
    rollup_from, rollup_to = (rollup_span(scope.start, scope.end, groups, tz) if use_rollup
                              else (scope.start, scope.start))
    days_from, days_to = summed_days(scope, groups, tz, rollup_from, rollup_to)
    # Paging picks sessions; a report covers all of its scope.
    columns, attrs = grouping(groups)
    source = source_attribute(groups)
    return {**scope.params(org_id), **attrs, "tz": tz, "rollup_from": rollup_from,
            "rollup_to": rollup_to, "days_from": days_from, "days_to": days_to,
            "lone_days": days_from is not None and set(columns) == LONE_DAYS,
            "limit": None, "after_last_seen": None,
            "after_session_id": None, **{f"by_{key}": key in groups for key in COMPUTED_KEYS},
            "source_attribute": source, "by_source": source is not None}


def joins_sessions(scope: Scope, groups: Sequence[str]) -> bool:
    """True when the sessions a report reads whole from session_usage must be joined to
    their sessions rows: to keep those of a person, a seat or a model, or to group them by
    a resource attribute. Every other report reads them from session_usage alone; a
    session read whole lies inside the window, so inside the scope, by construction."""
    return scope.filters_sessions or any(group.startswith(ATTR_PREFIX) for group in groups)


def summed_days(scope: Scope, groups: Sequence[str], tz: str, rollup_from: datetime,
                rollup_to: datetime) -> tuple[date | None, date | None]:
    """Return [days_from, days_to): the whole UTC days of [rollup_from, rollup_to) whose
    single-day sessions a report may read from usage_days, or (None, None): none.

    usage_days keeps no session, terminal or app version, and its days are UTC days: only
    a report of all the scope's sessions, grouped by none of those, and by day or week
    only in a zone that is UTC every day, may read it. usage_days_attributes answers a
    report grouped by resource attributes, but not by model too, nor by an attribute of
    the process (the statement checks that again: analytics_usage.sql, `cover`).
    """
    attributes = [key for key in grouping(groups)[1].values() if key is not None]
    usable = (scope.session_ids is None and scope.after is None and scope.limit is None
              and not scope.filters_sessions
              and not UNSUMMED_GROUPS.intersection(groups)
              and not (attributes and "model" in groups)
              and not any(map(process_attribute, attributes))
              and (not DAY_GROUPS.intersection(groups) or utc_zone(tz)))
    if not usable:
        return None, None
    start = rollup_from.astimezone(UTC)
    first, last = start.date(), rollup_to.astimezone(UTC).date()
    if start.timetz() != time(tzinfo=UTC) and first < last:
        first += DAY    # the first whole day
    return (first, last) if first < last else (None, None)


def process_attribute(key: str) -> bool:
    """True for a resource attribute that usage_days_attributes leaves out, as the SQL
    function mojule_process_attribute decides (migration 0022)."""
    return key in PROCESS_ATTRIBUTES or key.startswith(PROCESS_ATTRIBUTE_PREFIX)


def rollup_span(start: datetime, end: datetime, groups: Sequence[str],
                tz: str) -> tuple[datetime, datetime]:
    """Return [rollup_from, rollup_to): the whole quarter hours of [start, end) a report
    grouped by ``groups`` in ``tz`` may read from usage_rollup, or (start, start): none.

    The rollup keeps no tool or language, and days and weeks may come from it only in a
    time zone whose day boundaries are quarter hours.
    """
    usable = not RAW_ONLY_GROUPS.intersection(groups) and (
        not DAY_GROUPS.intersection(groups) or quarter_hour_zone(tz))
    first, last = _bucket_ceil(start), _bucket_floor(end)
    return (first, last) if usable and first < last else (start, start)


def quarter_hour_zone(tz: str) -> bool:
    """True when ``tz`` is a whole number of quarter hours from UTC every day of ZONE_YEARS
    (every zone in use today is)."""
    return not any(offset % BUCKET for offset in _zone_offsets(tz))


def utc_zone(tz: str) -> bool:
    """True when ``tz`` is UTC every day of ZONE_YEARS."""
    return _zone_offsets(tz) == {timedelta(0)}


@functools.cache
def _zone_offsets(tz: str) -> frozenset[timedelta]:
    """The offsets from UTC ``tz`` has on the days of ZONE_YEARS (at 00:00 UTC)."""
    zone = ZoneInfo(tz)
    day, last = (datetime(year, 1, 1, tzinfo=UTC) for year in ZONE_YEARS)
    offsets = set()
    while day < last:
        offsets.add(zone.utcoffset(day))
        day += DAY
    return frozenset(offsets)


def _bucket_floor(moment: datetime) -> datetime:
    return BUCKET_ORIGIN + (moment - BUCKET_ORIGIN) // BUCKET * BUCKET


def _bucket_ceil(moment: datetime) -> datetime:
    return BUCKET_ORIGIN - (BUCKET_ORIGIN - moment) // BUCKET * BUCKET


def measures(row: Mapping[str, Any]) -> dict[str, Any]:
    """Shape the measure columns of one analytics_usage.sql row.

    It only picks and nests columns, computing nothing: exports.usage_csv shapes a row
    of column names with it to know which column each of the CSV export's columns is.
    """
    return {
        "cost_usd": row["cost_usd"],
        "tokens": {"input": row["input_tokens"], "output": row["output_tokens"],
                   "cache_read": row["cache_read_tokens"],
                   "cache_creation": row["cache_creation_tokens"]},
        "sessions": row["sessions"],
        "active_users": row["active_users"],
        "models": row["models"],
        "api_requests": row["api_requests"],
        "api_errors": row["api_errors"],
        "api_retries_exhausted": row["api_retries_exhausted"],
        "tool_calls": row["tool_calls"],
        "tool_successes": row["tool_successes"],
        "tool_failures": row["tool_failures"],
        "tool_avg_duration_ms": row["tool_avg_duration_ms"],
        "tool_decisions": {"accepted": row["tool_accepts"], "rejected": row["tool_rejects"]},
        "lines_added": row["lines_added"],
        "lines_removed": row["lines_removed"],
        "commits": row["commits"],
        "pull_requests": row["pull_requests"],
        "code_edit_decisions": {"accepted": row["edits_accepted"],
                                "rejected": row["edits_rejected"]},
        "active_time_s": row["active_time_s"],
        "active_time_by_type_s": {"user": row["active_time_user_s"],
                                  "cli": row["active_time_cli_s"]},
    }


def no_activity() -> dict[str, Any]:
    """Return the measures of a group with no activity (all zero, no models)."""
    row: defaultdict[str, Any] = defaultdict(int, cost_usd=Decimal("0.000000"), models=[],
                                             tool_avg_duration_ms=None)
    return measures(row)
