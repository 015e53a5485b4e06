"""The ``mojule`` command: schema, orgs and tokens, people, audit, retention and keys.

Commands are thin: they parse input, call plain functions that take the connection
first, and print. Quiet on success except for what the operator asked to see; a clear
message and a non-zero exit on failure, so cron can alert.
"""
from __future__ import annotations

import errno
import re
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import psycopg

from mojule import analytics, audit, labels, orgs
from mojule import config as config_module
from mojule.analytics import YEARS
from mojule.db import connect, org_transaction


class CliContext:
    """Configuration and one database connection, opened on first use."""

    def __init__(self):
        self._config = None
        self._conn = None
        # Settings a command can do without (init-db, before the app role's URL exists).
        self.optional_settings: frozenset[str] = frozenset()

    @property
    def config(self) -> dict:
        if self._config is None:
            try:
                self._config = config_module.load(optional=self.optional_settings)
            except config_module.ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._config

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None:
            self._conn = self.connect(self.config["DATABASE_URL"], "MOJULE_DATABASE_URL")
        return self._conn

    def connect(self, url: str, variable: str) -> psycopg.Connection:
        try:
            return connect(url)
        except psycopg.OperationalError as exc:
            raise click.ClickException(f"cannot connect to {variable}: {exc}") from None

    def org(self, slug: str) -> orgs.Org:
        try:
            return orgs.find_org(self.conn, slug)
        except orgs.OrgNotFound:
            raise click.ClickException(f"no org with slug {slug!r}") from None

    def audit(self, org_id: int, action: str, **fields) -> None:
        """Record a CLI action in the org's audit trail, in a transaction of its own."""
        with org_transaction(self.conn, org_id):
            self.record(org_id, action, **fields)

    def record(self, org_id: int, action: str, **fields) -> None:
        """Record a CLI action in the org's audit trail, in the caller's transaction: the
        one that makes the change, so the change is never left unrecorded."""
        audit.record(self.conn, org_id, audit.Entry(
            action=action, outcome=fields.pop("outcome", "ok"), actor_type="cli",
            actor_id=audit.cli_actor(), **fields))


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def time_zone(tz: str) -> ZoneInfo:
    """Return the ``--tz`` option's zone. Raises click.BadParameter for one that reports
    cannot use (``analytics.time_zone_problem``)."""
    problem = analytics.time_zone_problem(tz)
    if problem:
        raise click.BadParameter(problem, param_hint="--tz")
    return ZoneInfo(tz)


def parse_moment(text: str | None, option: str, tz: str = "UTC") -> datetime | None:
    """Return an ISO 8601 option value as an aware datetime (without a zone: read in ``tz``).

    Raises click.BadParameter naming the option, for the value or for an unknown zone.
    """
    if text is None:
        return None
    zone = time_zone(tz)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not ISO 8601 (e.g. 2026-11-26T03:00:00Z)",
                                 param_hint=option) from None
    if moment.year not in YEARS:
        raise click.BadParameter(f"{text!r} is not between the years {YEARS.start} and "
                                 f"{YEARS.stop - 1}", param_hint=option)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def check_window(start: datetime | None, end: datetime | None) -> None:
    """Raise click.BadParameter naming --to when it is not after --from (either may be
    left open: None)."""
    if start is not None and end is not None and end <= start:
        raise click.BadParameter("must be after --from", param_hint="--to")


DURATION = re.compile(r"(\d{1,6})([smhd])")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


# What a Duration option gives for "never" (no expiry).
NEVER = timedelta.max


def expiry_after(expires_in: timedelta | None) -> datetime | None:
    """When a token given ``--expires-in`` stops working: None for no option or ``never``."""
    return None if expires_in in (None, NEVER) else datetime.now(UTC) + expires_in


class Duration(click.ParamType):
    """A length of time such as ``90d``, ``12h``, ``30m`` or ``0s``; with ``allow_never``,
    also ``never`` (NEVER); with ``positive``, never zero (a token that expires as it is
    made is a mistake, not a setting)."""

    name = "duration"

    def __init__(self, allow_never: bool = False, positive: bool = False):
        self.allow_never = allow_never
        self.positive = positive

    def convert(self, value, param, ctx) -> timedelta:
        if isinstance(value, timedelta):
            return value
        if self.allow_never and str(value).strip() == "never":
            return NEVER
        match = DURATION.fullmatch(str(value).strip())
        if not match:
            self.fail(f"{value!r} is not a duration such as 90d, 12h, 30m or 0s", param, ctx)
        amount, unit = match.groups()
        if self.positive and int(amount) == 0:
            self.fail(f"{value!r} is no time at all: give a duration such as 90d or 12h",
                      param, ctx)
        return timedelta(**{DURATION_UNITS[unit]: int(amount)})


class Label(click.ParamType):
    """A name or reason a person gives (an org's display name, what a token is for, why
    ingestion is paused): trimmed, not blank, at most ``max_length`` characters, and on one
    line, as every listing, the dashboard and the audit trail show it."""

    name = "text"

    def __init__(self, max_length: int = labels.MAX_LENGTH):
        self.max_length = max_length

    def convert(self, value, param, ctx) -> str:
        text = str(value).strip()
        problem = labels.label_problem(text, self.max_length)
        if problem:
            self.fail(problem, param, ctx)
        return text


def show_secret(introduction: str, secret: str) -> None:
    """Say what the secret is (stderr), then print it alone on stdout's last line, and
    flush it. Called inside the transaction that stores the secret: one nobody could see
    (stdout closed, or a full disk) fails the command and is not kept."""
    if sys.stdout is None or sys.stdout.closed:
        raise click.ClickException("standard output is closed: the new secret would be "
                                   "shown nowhere, so it was not made")
    click.echo(introduction, err=True)
    try:
        click.echo(secret)
        sys.stdout.flush()
    except OSError as exc:
        raise click.ClickException(f"cannot print the new secret ({exc.strerror or exc}), "
                                   "so it was not made") from None


def when(moment) -> str:
    """Format an optional timestamp for listings."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def reconciled(slug: str, sessions: int) -> str:
    """Say what rollup.reconcile_unattributed settled in an org (purge and init-db)."""
    return (f"{slug}: {sessions} sessions now take cost and tokens from their seat's events,"
            " which counted them twice")


class MojuleGroup(click.Group):
    """The command group, and the CLI's one error boundary: what escapes a command as a
    database error or a bad parameter found late (in a streamed export) is a one-line
    message and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except analytics.BadParameter as exc:
            raise click.ClickException(str(exc)) from None
        except psycopg.errors.UndefinedTable as exc:
            raise click.ClickException(
                f"the database has no Mojule schema ({exc.diag.message_primary}): "
                "check MOJULE_DATABASE_URL, or run `mojule init-db`") from None
        except psycopg.OperationalError as exc:
            raise click.ClickException(f"lost the database connection: {exc}") from None
        except psycopg.Error as exc:
            raise click.ClickException(
                f"the database refused: {exc.diag.message_primary or exc} "
                f"(SQLSTATE {exc.sqlstate})") from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise       # click ends quietly when a reader (| head) stops reading
            raise click.ClickException(str(exc)) from None


@click.group(cls=MojuleGroup)
@click.version_option(package_name="mojule", prog_name="mojule",
                      message="%(prog)s %(version)s")
def cli() -> None:
    """Mojule: the receiver and analytics service for Claude Code telemetry.

    Configuration comes from MOJULE_* environment variables (see README.rst).
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mojule")


def _register() -> None:
    from mojule.cli import (  # noqa: F401
        budget,
        erasure,
        export,
        holds,
        keys,
        license,
        people,
        retention,
        schema,
        tenants,
    )


_register()

if __name__ == "__main__":
    sys.exit(main())
