"""``mojule purge`` and ``mojule audit ...``: the content window and the audit trail."""
from __future__ import annotations

from datetime import UTC, datetime

import click
import orjson

from mojule import audit, orgs, retention
from mojule.cli import CliContext, check_window, cli, parse_moment, pass_cli, reconciled
from mojule.db import org_transaction
from mojule.keyring import Keyring


@cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@click.option("--now", "now_text", metavar="TIMESTAMP",
              help="Stand-in for the current time (ISO 8601), for tests and backfills; "
                   "a future one only with --dry-run or --allow-future-now.")
@click.option("--allow-future-now", "allow_future", is_flag=True,
              help="Purge as of a --now in the future (tests).")
@pass_cli
def purge(ctx: CliContext, dry_run: bool, now_text: str | None, allow_future: bool) -> None:
    """Delete verbatim content older than each org's window (run daily from cron).

    Also settles the sessions whose cost their seat's events turned out to count already,
    when usage came partly without session.id, and finishes a recount of usage that an
    upgrade's init-db left. Usage rows and the audit trail stay. A second purge started
    while one runs exits at once with status 0.
    """
    now = parse_moment(now_text, "--now") or datetime.now(UTC)
    if now > datetime.now(UTC) and not (dry_run or allow_future):
        # A mistyped year would delete every org's content, today's included.
        raise click.BadParameter("is in the future: that would delete content still in its "
                                 "window. Use --dry-run, or --allow-future-now if you mean it.",
                                 param_hint="'--now'")
    verb = "would remove" if dry_run else "removed"
    warned = []

    def report(result: retention.OrgPurge) -> None:
        click.echo(f"{result.slug}: {verb} {result.removed} content values older than "
                   f"{result.cutoff:%Y-%m-%d %H:%M} UTC ({result.retention_days}-day window)")
        if result.held:
            click.echo(f"{result.slug}: kept {result.held} content values past the window "
                       f"under legal holds (mojule hold list --org {result.slug})")
        if result.warning:
            click.echo(f"{result.slug}: {result.warning}", err=True)
            warned.append(result.slug)
        if result.shredded:
            click.echo(f"{result.slug}: destroyed data keys "
                       f"{', '.join(map(str, result.shredded))}, whose content is all purged")
        if result.reconciled:
            click.echo(reconciled(result.slug, result.reconciled))

    try:
        retention.purge_expired_content(ctx.conn, now, dry_run, audit.cli_actor(), report,
                                        Keyring(ctx.config["MASTER_KEYS"]))
    except retention.PurgeRunning as exc:
        click.echo(f"purge: {exc.__doc__}", err=True)
    if warned:
        # Every org was purged; the exit status is for cron and the systemd timer, so
        # that a master key which opens no stored key is noticed, not logged and lost.
        raise click.ClickException(f"{len(warned)} org(s) need attention, above: "
                                   f"{', '.join(warned)}")


@cli.group("audit")
def audit_group() -> None:
    """Export and verify an audit trail: an org's, or the installation's."""


def chain_options(command):
    """The options that name an audit chain: an org's, a deleted org's, the installation's."""
    command = click.option("--installation", is_flag=True,
                           help="The installation's chain (license, ingestion pause and "
                                "resume, org deletions).")(command)
    command = click.option("--org-id", type=click.IntRange(min=1, max=2**63 - 1),
                           help="An org's id: the chain of a deleted org stays, and the "
                                "installation's chain names its id.")(command)
    return click.option("--org", "slug", help="The org's slug.")(command)


def chain_of(ctx: CliContext, slug: str | None, org_id: int | None,
             installation: bool) -> tuple[int, str]:
    """Return (org_id, name) of the audit chain the options name; exactly one must."""
    if sum((slug is not None, org_id is not None, installation)) != 1:
        raise click.UsageError("name one audit chain: --org SLUG, --org-id ID or --installation")
    if installation:
        return audit.INSTALLATION_ORG, "the installation"
    if org_id is not None:
        return org_id, f"org id {org_id}"
    return ctx.org(slug).org_id, slug


@audit_group.command("verify")
@chain_options
@pass_cli
def audit_verify(ctx: CliContext, slug: str | None, org_id: int | None,
                 installation: bool) -> None:
    """Check an audit hash chain; exit 1 naming the first broken row."""
    asked_by_id = org_id is not None
    org_id, name = chain_of(ctx, slug, org_id, installation)
    with org_transaction(ctx.conn, org_id):
        result = audit.verify(ctx.conn, org_id)
    if result.checked == 0 and asked_by_id and \
            all(item.org_id != org_id for item in orgs.list_orgs(ctx.conn)):
        # A deleted org's chain outlives it: an id with neither an org nor rows is a typo
        # (or a chain whose rows are all gone), never a chain that holds.
        raise click.ClickException(f"no audit rows under {name}, and no org has that id")
    if not result.holds:
        raise click.ClickException(
            f"audit chain of {name} is broken at row {result.broken_at}: {result.problem} "
            f"({result.checked} rows before it hold)")
    click.echo(f"audit chain of {name} holds: {result.checked} rows, head {result.head or '-'}")


@audit_group.command("export")
@chain_options
@click.option("--from", "since", help="Only rows at or after this time (ISO 8601).")
@click.option("--to", "until", help="Only rows before this time (ISO 8601).")
@pass_cli
def audit_export(ctx: CliContext, slug: str | None, org_id: int | None, installation: bool,
                 since: str | None, until: str | None) -> None:
    """Write an audit chain's rows as JSON lines to standard output."""
    org_id, _ = chain_of(ctx, slug, org_id, installation)
    start, end = parse_moment(since, "--from"), parse_moment(until, "--to")
    check_window(start, end)
    with org_transaction(ctx.conn, org_id):
        for row in audit.rows(ctx.conn, org_id, start, end):
            click.echo(orjson.dumps(row).decode())
