"""GET /api/v1/export/{usage.csv,usage.ndjson,sessions.csv,events.ndjson}: streamed exports.

Same parameters and scoping as the usage API; rows stream as they are read, so an export
of any size takes constant memory. A browser signed in to the dashboard may download them
with its session cookie (GET only), which is how the dashboard's CSV buttons work.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from flask import Blueprint, Response, g

from mojule import exports
from mojule.api import own_seats, params, viewer_seats
from mojule.auth import user_token_or_signed_in
from mojule.db import get_connection, hold_connection

bp = Blueprint("export_api", __name__)
USAGE_PARAMETERS = ("from", "to", "tz", "group_by", "user", params.ATTRIBUTE_FILTERS)
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
MAX_TEAM_IN_FILENAME = 60


def _download(body, mimetype: str, filename: str) -> Response:
    # The body runs after the view returns, on the request's connection: held for it.
    response = Response(hold_connection(exports.chunks(body)), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _filename(kind: str, extension: str, start: datetime, end: datetime, tz: str,
              groups: Sequence[str] = (), team: Mapping[str, str] | None = None) -> str:
    """Name a download by what it holds, e.g. ``mojule-usage-by-user-department_platform-
    1f0c9a2e-2026-11-01-to-2026-11-30.csv``: exports of other groupings, teams or days do
    not overwrite each other (the last day is the window's [start, end), inclusive, in its
    time zone; a team is named readably, cut if long, then by a digest of it)."""
    last = (end - timedelta(microseconds=1)).astimezone(ZoneInfo(tz))
    by = f"-by-{'-'.join(groups)}" if groups else ""
    only = ""
    if team:
        pairs = sorted(team.items())
        # The readable part loses characters and length; the digest tells teams apart.
        digest = hashlib.sha256(orjson.dumps(pairs)).hexdigest()[:8]
        readable = "-".join(f"{key}_{value}" for key, value in pairs)
        only = f"-{readable[:MAX_TEAM_IN_FILENAME]}-{digest}"
    name = (f"mojule-{kind}{by}{only}-{start.astimezone(ZoneInfo(tz)):%Y-%m-%d}"
            f"-to-{last:%Y-%m-%d}")
    return f"{UNSAFE_IN_FILENAME.sub('_', name)}.{extension}"


def _usage(export, extension: str) -> tuple[Iterable, str]:
    """Call ``export`` (exports.usage_rows or usage_csv) with the request's parameters;
    return its rows and the download's name."""
    tz = params.time_zone()
    start, end = params.window(tz)
    groups, team = params.group_by(), params.attributes()
    conn = get_connection()
    rows = export(conn, g.user.org_id, start, end, groups, tz, viewer_seats(conn),
                  params.filter_text("user"), team)
    return rows, _filename("usage", extension, start, end, tz, groups, team)


@bp.get("/api/v1/export/usage.csv")
@user_token_or_signed_in
@params.takes(*USAGE_PARAMETERS)
def usage_csv():
    """The usage report as CSV, one line per group (cost_usd among the columns)."""
    lines, filename = _usage(exports.usage_csv, "csv")
    return _download(lines, "text/csv", filename)


@bp.get("/api/v1/export/usage.ndjson")
@user_token_or_signed_in
@params.takes(*USAGE_PARAMETERS)
def usage_ndjson():
    """The usage report as JSON lines, one per group."""
    rows, filename = _usage(exports.usage_rows, "ndjson")
    return _download(exports.ndjson_lines(rows), "application/x-ndjson", filename)


@bp.get("/api/v1/export/sessions.csv")
@user_token_or_signed_in
@params.takes("from", "to", "tz", "user", "model", "attribute", params.ATTRIBUTE_FILTERS)
def sessions_csv():
    """Every session of the window with its totals, as CSV; ``attribute`` (repeatable)
    adds an attr:<key> column for a resource attribute."""
    tz = params.time_zone()
    start, end = params.window(tz)
    team, keys, conn = params.attributes(), params.attribute_columns(), get_connection()
    rows = exports.session_rows(conn, g.user.org_id, start, end, viewer_seats(conn),
                                params.filter_text("user"), params.filter_text("model"),
                                attributes=team)
    lines = exports.csv_lines(exports.session_columns(keys),
                              exports.session_csv_rows(rows, keys))
    return _download(lines, "text/csv", _filename("sessions", "csv", start, end, tz, team=team))


@bp.get("/api/v1/export/events.ndjson")
@user_token_or_signed_in
@params.takes("from", "to", "tz", "user", "event", "notable")
def events_ndjson():
    """Every event of the window without content, as JSON lines, oldest first; ``event``
    (repeatable or comma-separated) keeps some events only, ``user`` one seat's, and
    ``notable=true`` those the Security page counts. The whole org's events are for
    admins: they are what security events are made of, which an analyst does not see, so
    an analyst gets their own, as a member does."""
    tz = params.time_zone()
    start, end = params.window(tz)
    conn = get_connection()
    seats = None if g.user.is_admin else own_seats(conn)
    rows = exports.event_rows(conn, g.user.org_id, start, end, seats,
                              params.filter_text("user"), params.listed("event"),
                              params.flag("notable"))
    return _download(exports.ndjson_lines(rows), "application/x-ndjson",
                     _filename("events", "ndjson", start, end, tz))
