"""Exports of usage, sessions and events as CSV and NDJSON, streamed in constant memory.

The API's export endpoints and ``mojule export`` share these generators, so a file from
either is the same file. Numbers are the analytics module's: an export equals the API.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, AnyStr

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from mojule import accounting, analytics, security_events
from mojule.accounting import ATTR_PREFIX, Scope
from mojule.db import close_iterable, query

EVENTS_FETCH = 2000
# What a spreadsheet takes a cell beginning with for a formula (OWASP, "CSV Injection"). A
# seat, a resource attribute or a terminal is whatever a developer's machine sends, so
# a CSV export puts a ' before such a text, and quotes every text: a spreadsheet that
# splits lines at ; (its list separator in many locales) keeps a quoted field whole,
# where "x;=cmd" would have become a cell beginning with =.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A session row's resource attributes, exported as one JSON column (and, asked for by
# key, as attr:<key> columns).
RESOURCE_ATTRIBUTES = "resource_attributes"
# Values a CSV cell holds as they are; a list, a map or a boolean is written as JSON.
PLAIN_CELLS = (str, int, float)
# What a streamed download sends at a time (see ``chunks``).
STREAM_CHUNK = 64 * 1024


def flatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a usage or session row as flat columns: {"tokens": {"input": 1}} -> tokens_input."""
    # Rows are plain dicts and lists: checking concrete types, not the Mapping ABC, keeps
    # this cheap for the tens of thousands of rows of a usage export grouped by day and user.
    flat: dict[str, Any] = {}
    for name, value in row.items():
        kind = type(value)
        if kind is dict and name == RESOURCE_ATTRIBUTES:
            # A session's own keys, which vary: one JSON column keeps the columns fixed;
            # sorted, as the API writes them.
            flat[name] = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        elif kind is dict:
            if name == "key":
                flat.update(value)
            else:
                for inner, item in flatten(value).items():
                    flat[f"{name}_{inner}"] = item
        elif kind is list or kind is tuple:
            flat[name] = orjson.dumps(value).decode()
        else:
            flat[name] = value
    return flat


def csv_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Yield a CSV header and one line per row (missing columns left empty; texts quoted,
    and one a spreadsheet would take for a formula after a ', see FORMULA_STARTS).
    Closing the lines, or a failure, closes ``rows``, as ndjson_lines does."""
    columns = list(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(columns)
    try:
        for row in rows:
            yield _take(buffer)
            writer.writerow([_cell(row.get(column)) for column in columns])
        yield _take(buffer)
    finally:
        close_iterable(rows)


def _cell(value: Any) -> Any:
    if type(value) is str and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def ndjson_lines(rows: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    """Yield one JSON document per line; closing the lines, or a failure, closes ``rows``
    (an events export's transaction ends then, not when its traceback is freed)."""
    try:
        for row in rows:
            yield orjson.dumps(row, default=_jsonable) + b"\n"
    finally:
        close_iterable(rows)


def chunks(lines: Iterable[AnyStr], size: int = STREAM_CHUNK) -> Iterator[AnyStr]:
    """Yield ``lines`` joined into pieces of at least ``size`` characters (or bytes), the
    last one shorter. A WSGI server writes each piece of a streamed response as an HTTP
    chunk of its own: a line at a time would cost a write, and its framing, per row."""
    batch: list[AnyStr] = []
    length = 0
    try:
        for line in lines:
            batch.append(line)
            length += len(line)
            if length >= size:
                yield line[:0].join(batch)
                batch, length = [], 0
        if batch:
            yield batch[0][:0].join(batch)
    finally:
        # A client that goes away closes this generator: close the lines' own at once,
        # so that an events export ends its server-side cursor and transaction now.
        close_iterable(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)   # Decimal money as its exact text


def usage_rows(conn: psycopg.Connection, org_id: int, start: datetime, end: datetime,
               groups: Sequence[str], tz: str, seats, user: str | None = None,
               attributes: Mapping[str, str] | None = None) -> list[dict]:
    """Return the usage report's rows (already small: one per group)."""
    return analytics.usage(conn, org_id, start, end, groups, tz, seats, user, attributes)


def usage_csv(conn: psycopg.Connection, org_id: int, start: datetime, end: datetime,
              groups: Sequence[str], tz: str, seats, user: str | None = None,
              attributes: Mapping[str, str] | None = None) -> list[bytes]:
    """Return the usage report as CSV lines, a header first: the columns of ``usage_rows``
    flattened (tokens_input, code_edit_decisions_accepted; models as a JSON array).

    PostgreSQL writes the lines (sql/export_usage_csv.sql): a report grouped by day and
    user has tens of thousands of rows, and reading each into Python objects only to
    write it out again took longer than computing the report. The lines are read before
    this returns, as ``usage_rows`` reads its rows (one per group): a bad parameter
    (BadParameter, naming it) or a failing database is the request's error, not a
    download cut short, and the connection is free when the view returns.
    """
    scope, groups = analytics.usage_scope(start, end, groups, tz, seats, user, attributes)
    report, params = accounting.report_statement(org_id, scope, groups, tz)
    columns, _ = accounting.grouping(groups)
    sources = _usage_csv_sources(groups, columns)
    # The header from Python: PostgreSQL would cut a long attr: name to 63 bytes.
    header = next(csv_lines(sources, ())).encode()
    with accounting.transaction(conn, org_id), conn.cursor() as cur, \
            cur.copy(_usage_csv_statement(report, columns, sources), params) as copy:
        # COPY sends each line in a message of its own, ending in a line feed; the
        # export's lines end as csv_lines ends them (RFC 4180), with a carriage return.
        return [header, *(bytes(line[:-1]) + b"\r\n" for line in copy)]


def _usage_csv_sources(groups: Sequence[str], columns: Sequence[str]) -> dict[str, str]:
    """Return the usage CSV's columns, each with the statement column it shows (the key
    ``columns`` of ``groups``, then the measures): the API's rows flattened, as
    ``accounting.measures`` shapes a row of column names."""
    return flatten({"key": dict(zip(groups, columns)), **accounting.measures(_ColumnNames())})


def _usage_csv_statement(report: sql.Composed, columns: Sequence[str],
                         sources: Mapping[str, str]) -> sql.Composed:
    """Return sql/export_usage_csv.sql around ``report`` (ordered by its key ``columns``):
    the CSV's columns in order, named by position (the names are PostgreSQL's only), its
    texts quoted."""
    names = [sql.Identifier(f"c{position}") for position in range(len(sources))]
    order = sql.SQL(", ").join(map(sql.Identifier, columns))
    return sql.SQL(query("export_usage_csv")).format(
        columns=sql.SQL(", ").join(sql.SQL("{} AS {}").format(_csv_value(source), name)
                                   for source, name in zip(sources.values(), names)),
        report=report,
        order_by=sql.SQL("ORDER BY {}").format(order) if columns else sql.SQL(""),
        texts=sql.SQL(", ").join(name for source, name in zip(sources.values(), names)
                                 if _is_text(source)))


class _ColumnNames(dict):
    """A row of the accounting statement whose every value is its column's name: shaped
    by ``accounting.measures`` and flattened, it names the column of each CSV column."""

    def __missing__(self, column: str) -> str:
        return column


def _is_text(column: str) -> bool:
    """True for the columns the usage CSV writes as texts: its keys and model names."""
    return column.startswith("key_") or column == "models"


def _csv_value(column: str) -> sql.Composable:
    """The text of a column as the export writes it (as ``csv_lines`` would write it)."""
    value = sql.Identifier("report", column)
    if column in (accounting.KEY_COLUMNS["day"], accounting.KEY_COLUMNS["week"],
                  accounting.KEY_COLUMNS["month"]):
        # As a timestamp without time zone: the session's TimeZone cannot move the day.
        return sql.SQL("to_char({}::timestamp, 'YYYY-MM-DD')").format(value)
    if column == "models":
        return sql.SQL("array_to_json({})").format(value)
    if column.startswith("key_"):   # the other keys are texts
        return sql.SQL("CASE WHEN left({value}, 1) = ANY ({starts}) THEN '''' || {value}"
                       " ELSE {value} END").format(value=value,
                                                   starts=sql.Literal(list(FORMULA_STARTS)))
    return value


def session_rows(conn: psycopg.Connection, org_id: int, start: datetime, end: datetime,
                 seats, user: str | None = None, model: str | None = None,
                 page_size: int = 200,
                 attributes: Mapping[str, str] | None = None) -> Iterator[dict]:
    """Yield every session of the window, a page at a time (newest first).

    Every page is read from one snapshot. Pages go by last_seen, which ingest moves: read
    in transactions of their own, they left out a session whose new activity, mid-export,
    moved it ahead of the page being read.
    """
    with conn.transaction():
        conn.execute(query("transaction_read_snapshot"))
        # The transaction stays open between pages while the client reads.
        conn.execute(query("transaction_idle_for_download"))
        cursor = None
        while True:
            page, cursor = analytics.list_sessions(conn, org_id, start, end, user=user,
                                                   model=model, seats=seats,
                                                   attributes=attributes,
                                                   limit=page_size, cursor=cursor)
            yield from page
            if cursor is None:
                return


# The session list's fields, flattened as ``flatten`` names them (user_user_id is the
# seat's user.id, the install id Claude Code sends).
SESSION_COLUMNS = ("session_id", "user_seat_identity", "user_email", "user_account_uuid",
                   "user_user_id", "user_organization_uuid", "first_seen", "last_seen",
                   "terminal_type", "app_version", "unattributed", "agents_view",
                   RESOURCE_ATTRIBUTES)


def session_columns(attribute_keys: Sequence[str] = ()) -> list[str]:
    """Return the CSV columns of a sessions export: with ``attribute_keys``, an
    attr:<key> column for each, after the figures."""
    figures = [name for name in flatten(accounting.no_activity())
               if name not in analytics.GROUP_ONLY]
    return [*SESSION_COLUMNS, *figures, *(ATTR_PREFIX + key for key in attribute_keys)]


def session_csv_rows(rows: Iterable[Mapping[str, Any]],
                     attribute_keys: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield session rows flattened, with the attr:<key> columns of ``attribute_keys``: a
    text or number as it is, any other value as JSON, none left empty. Closing this closes
    ``rows``."""
    try:
        for row in rows:
            flat = flatten(row)
            attributes = row[RESOURCE_ATTRIBUTES]
            for key in attribute_keys:
                value = attributes.get(key)
                flat[ATTR_PREFIX + key] = (value if value is None or type(value) in PLAIN_CELLS
                                           else orjson.dumps(value).decode())
            yield flat
    finally:
        close_iterable(rows)


def event_rows(conn: psycopg.Connection, org_id: int, start: datetime, end: datetime,
               seats, user: str | None = None, event_names: Sequence[str] | None = None,
               notable_only: bool = False) -> Iterator[dict]:
    """Yield the window's events without content, oldest first, through a server-side cursor.

    ``user`` keeps one seat's (as the usage reports do); ``event_names`` some events only;
    ``notable_only`` the events the Security page counts (failed logins, denied tools,
    blocking hooks, failed MCP connections, and all of the other kinds it shows) and no
    other. Raises BadParameter naming a bad parameter at once, before a row is read.
    """
    scope = Scope(start, end, seats=seats, user=analytics.seat_user(user))
    params = {**scope.params(org_id), "event_names": analytics.check_event_names(event_names),
              "notable_names": security_events.KIND_NAMES if notable_only else None}
    return _stream_events(conn, org_id, params)


def _stream_events(conn: psycopg.Connection, org_id: int, params: dict) -> Iterator[dict]:
    # A generator of its own: event_rows checks its parameters when called, so that a bad
    # one is a 400 before a response starts streaming, not an error in the middle of it.
    # An analytics transaction: a member's export sorts thousands of wide rows, which
    # spilled to disk in the default work_mem.
    with accounting.transaction(conn, org_id), \
            conn.cursor(name="mojule_export_events", row_factory=dict_row) as cur:
        cur.itersize = EVENTS_FETCH
        cur.execute(query("export_events"), params)
        # The attributes come as PostgreSQL's JSON text, which ndjson_lines writes as it
        # is: decoding them into Python values, only to encode them again, took a third
        # of the export's time.
        for row in cur:
            row["attributes"] = orjson.Fragment(row["attributes"])
            yield row
