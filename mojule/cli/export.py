"""``mojule export ...``: the API's exports from the command line, for an org as a whole."""
from __future__ import annotations

import sys
from datetime import datetime, timedelta

import click

from mojule import analytics, exports, usage_report
from mojule.analytics import BadParameter
from mojule.cli import CliContext, cli, parse_moment, pass_cli, time_zone


def _window(since: str | None, until: str | None, tz: str) -> tuple[datetime, datetime]:
    end = parse_moment(until, "--to", tz) or datetime.now(time_zone(tz))
    start = parse_moment(since, "--from", tz) or end - timedelta(days=30)
    if end <= start:
        raise click.BadParameter("must be after --from", param_hint="--to")
    return start, end


def _write(lines, output) -> None:
    """Write the export, showing progress on stderr when it is a terminal."""
    stream = output or sys.stdout
    with click.progressbar(lines, label="exporting", file=sys.stderr, show_pos=True,
                           item_show_func=lambda _: None) as bar:
        for line in bar:
            stream.write(line)
    stream.flush()


common = [
    click.option("--org", "slug", required=True, help="The org's slug."),
    click.option("--from", "since", help="Start (ISO 8601; default 30 days before --to)."),
    click.option("--to", "until", help="End, exclusive (ISO 8601; default now)."),
    click.option("--tz", default="UTC", show_default=True, help="Time zone for dates and days."),
]


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
              help="day, week, user, model, terminal, app_version or attr:<key>; repeatable.")
@click.option("--format", "fmt", type=click.Choice(["csv", "ndjson"]), default="csv",
              show_default=True)
@click.option("--output", "-o", type=click.File("w"), help="Write here instead of stdout.")
@pass_cli
def export_usage(ctx: CliContext, slug, since, until, tz, groups, fmt, output) -> None:
    """The usage report, one row per group."""
    org_id = ctx.org(slug).org_id
    start, end = _window(since, until, tz)
    groups = analytics.listed(groups)
    export = exports.usage_csv if fmt == "csv" else exports.usage_rows
    try:
        rows = export(ctx.conn, org_id, start, end, groups, tz, None)
    except BadParameter as exc:
        raise click.ClickException(str(exc)) from None
    lines = rows if fmt == "csv" else exports.ndjson_lines(rows)
    _write((line.decode() for line in lines), output)


@export_group.command("sessions")
@with_common
@click.option("--output", "-o", type=click.File("w"), help="Write here instead of stdout.")
@pass_cli
def export_sessions(ctx: CliContext, slug, since, until, tz, output) -> None:
    """Every session of the window with its totals, as CSV."""
    org_id = ctx.org(slug).org_id
    start, end = _window(since, until, tz)
    rows = exports.session_rows(ctx.conn, org_id, start, end, None)
    _write(exports.csv_lines(exports.session_columns(), exports.flattened(rows)), output)


@export_group.command("events")
@with_common
@click.option("--event", "event_names", multiple=True,
              help="Only events of this name (e.g. permission_mode_changed); repeatable.")
@click.option("--user", help="Only the events of this seat's sessions (an email, account "
                             "or install id, as group_by=user names it).")
@click.option("--notable", is_flag=True,
              help="Only the events the Security page counts (failed logins, denied tools, "
                   "blocking hooks, failed MCP connections; every event of its other "
                   "kinds), and no other event.")
@click.option("--output", "-o", type=click.File("w"), help="Write here instead of stdout.")
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
        raise click.BadParameter(str(exc), param_hint="--event") from None
    _write((line.decode() for line in exports.ndjson_lines(rows)), output)


@export_group.command("usage-report")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The UTC day (YYYY-MM-DD).")
@click.option("--output", "-o", type=click.File("w"), help="Write here instead of stdout.")
@pass_cli
def export_usage_report(ctx: CliContext, slug, day, output) -> None:
    """A UTC day's usage per seat and terminal, as JSON lines in the shape of Anthropic's
    Admin API Claude Code report: every record that GET /api/v1/usage_report/claude_code
    pages through."""
    org_id = ctx.org(slug).org_id
    records = usage_report.every_record(ctx.conn, org_id, day.date())
    _write((line.decode() for line in exports.ndjson_lines(records)), output)
