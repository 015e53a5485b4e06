"""``mojule export ...``: the API's exports from the command line, for an org as a whole."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from datetime import datetime, timedelta

import click

from mojule import analytics, exports, usage_report
from mojule.analytics import YEARS, BadParameter
from mojule.cli import CliContext, check_window, cli, parse_moment, pass_cli, time_zone


def _window(since: str | None, until: str | None, tz: str) -> tuple[datetime, datetime]:
    end = parse_moment(until, "--to", tz) or datetime.now(time_zone(tz))
    start = parse_moment(since, "--from", tz) or end - timedelta(days=30)
    check_window(start, end)
    return start, end


def _write(lines, path: str | None) -> None:
    """Write the export to the file at ``path``, or to stdout, showing progress on stderr
    when it is a terminal.

    A file is written beside its target and renamed over it once whole, so that a failed
    export (a full disk, a lost database) leaves no half file and an older one intact.
    A target that is not a regular file (a pipe, /dev/stdout) is written directly.
    """
    try:
        if path in (None, "-"):
            path = None
        if path is None or (os.path.exists(path) and not os.path.isfile(path)):
            with (open(path, "w", encoding="utf-8", newline="") if path else
                  contextlib.nullcontext(sys.stdout)) as stream:
                _copy(lines, stream)
            return
        with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", newline="", delete=False, prefix=".mojule-export-",
                dir=os.path.dirname(os.path.abspath(path))) as part:
            try:
                _copy(lines, part)
                part.close()
                os.replace(part.name, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(part.name)
                raise
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {path or 'standard output'}: {exc.strerror or exc}") from None


def _copy(lines, stream) -> None:
    if sys.stderr.isatty():
        with click.progressbar(lines, label="exporting", file=sys.stderr, show_pos=True,
                               item_show_func=lambda _: None) as bar:
            for line in bar:
                stream.write(line)
    else:       # no progress line in cron's mail
        for line in lines:
            stream.write(line)
    stream.flush()


# -o names a file: it is written in place only once whole (see _write).
OUTPUT = click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
                      help="Write here instead of stdout.")


common = [
    click.option("--org", "slug", required=True, help="The org's slug."),
    click.option("--from", "since", help="Start (ISO 8601; default 30 days before --to)."),
    click.option("--to", "until", help="End, exclusive (ISO 8601; default now)."),
    click.option("--tz", default="UTC", show_default=True, help="Time zone for dates and days."),
]


def _team(pairs: tuple[str, ...]) -> dict[str, str]:
    """The --attr KEY=VALUE options as the exports take them. Raises click.BadParameter."""
    wanted = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or key in wanted:
            raise click.BadParameter(f"{pair!r}: give each attribute once, as KEY=VALUE",
                                     param_hint="--attr")
        wanted[key] = value
    try:
        analytics.check_attributes(wanted)
    except analytics.BadParameter as exc:
        raise click.BadParameter(f"{exc.parameter}: {exc.problem}", param_hint="--attr") from None
    return wanted


USER = click.option("--user", help="Only this seat's sessions (an email, account or install "
                                   "id, as group_by=user names it).")
TEAM = click.option("--attr", "team", multiple=True, metavar="KEY=VALUE",
                    help="Only the sessions with this resource attribute value, e.g. "
                         "department=platform; repeatable (all must hold).")


def with_common(command):
    for option in reversed(common):
        command = option(command)
    return command


@cli.group("export")
def export_group() -> None:
    """Export usage, sessions, events (no content) or a day's usage report to standard
    output or a file."""


@export_group.command("usage")
@with_common
@click.option("--group-by", "groups", multiple=True,
              help="day, week, month, user, model, tool, language, terminal, app_version, "
                   "query_source, speed, effort or attr:<key>; repeatable.")
@click.option("--format", "fmt", type=click.Choice(["csv", "ndjson"]), default="csv",
              show_default=True)
@USER
@TEAM
@OUTPUT
@pass_cli
def export_usage(ctx: CliContext, slug, since, until, tz, groups, fmt, user, team,
                 output) -> None:
    """The usage report, one row per group."""
    org_id = ctx.org(slug).org_id
    start, end = _window(since, until, tz)
    attributes = _team(team)
    try:
        groups = analytics.check_group_by(analytics.listed(groups))
    except analytics.BadParameter as exc:
        raise click.BadParameter(exc.problem, param_hint="--group-by") from None
    export = exports.usage_csv if fmt == "csv" else exports.usage_rows
    rows = export(ctx.conn, org_id, start, end, groups, tz, None,   # BadParameter: MojuleGroup
                  user or None, attributes=attributes)
    lines = rows if fmt == "csv" else exports.ndjson_lines(rows)
    _write((line.decode() for line in lines), output)


@export_group.command("sessions")
@with_common
@USER
@click.option("--model", help="Only the sessions that used this model (a [1m]-style suffix "
                              "ignored).")
@TEAM
@click.option("--attribute", "columns", multiple=True, metavar="KEY",
              help="Add an attr:KEY column with each session's resource attribute KEY, "
                   "e.g. team; repeatable.")
@OUTPUT
@pass_cli
def export_sessions(ctx: CliContext, slug, since, until, tz, user, model, team, columns,
                    output) -> None:
    """Every session of the window with its totals, as CSV."""
    org_id = ctx.org(slug).org_id
    start, end = _window(since, until, tz)
    team = _team(team)
    try:
        keys = analytics.check_attribute_keys(analytics.listed(columns))
    except analytics.BadParameter as exc:
        raise click.BadParameter(exc.problem, param_hint="--attribute") from None
    rows = exports.session_rows(ctx.conn, org_id, start, end, None, user or None,
                                model or None, attributes=team)
    _write(exports.csv_lines(exports.session_columns(keys),
                             exports.session_csv_rows(rows, keys)), output)


@export_group.command("events")
@with_common
@click.option("--event", "event_names", multiple=True,
              help="Only events of this name (e.g. permission_mode_changed); repeatable.")
@USER
@click.option("--notable", is_flag=True,
              help="Only the events the Security page counts (failed logins, denied tools, "
                   "blocking hooks, failed MCP connections; every event of its other "
                   "kinds), and no other event.")
@OUTPUT
@pass_cli
def export_events(ctx: CliContext, slug, since, until, tz, event_names, user, notable,
                  output) -> None:
    """Every event of the window without content, as JSON lines."""
    org_id = ctx.org(slug).org_id
    start, end = _window(since, until, tz)
    try:
        rows = exports.event_rows(ctx.conn, org_id, start, end, None, user,
                                  analytics.listed(event_names), notable)
    except BadParameter as exc:
        if exc.parameter != "event":
            raise
        raise click.BadParameter(exc.problem, param_hint="--event") from None
    _write((line.decode() for line in exports.ndjson_lines(rows)), output)


@export_group.command("usage-report")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The UTC day (YYYY-MM-DD).")
@OUTPUT
@pass_cli
def export_usage_report(ctx: CliContext, slug, day, output) -> None:
    """A UTC day's usage per seat and terminal, as JSON lines in the shape of Anthropic's
    Admin API Claude Code report: every record that GET /api/v1/usage_report/claude_code
    pages through."""
    if day.year not in YEARS:
        raise click.BadParameter(f"must be a day between the years {YEARS.start} and "
                                 f"{YEARS.stop - 1}", param_hint="--day")
    org_id = ctx.org(slug).org_id
    records = usage_report.every_record(ctx.conn, org_id, day.date())
    _write((line.decode() for line in exports.ndjson_lines(records)), output)
