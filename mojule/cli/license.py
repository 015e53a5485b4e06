"""``mojule license ...`` and ``mojule ingest ...``: the on-prem license and the ingest pause."""
from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from mojule import audit, license, policy
from mojule.cli import CliContext, Label, cli, pass_cli, when
from mojule.keyring import unconfigured_master_key_ids


@cli.group("license")
def license_group() -> None:
    """Install the on-prem license and show what the license policy decides."""


@license_group.command("install")
@click.argument("file", type=click.File("rb"))
@pass_cli
def install(ctx: CliContext, file) -> None:
    """Verify the license FILE and make it the license in force."""
    try:
        document = file.read().decode("utf-8")
        found = license.install(ctx.conn, document, _keys(ctx), audit.cli_actor(),
                                now=datetime.now(UTC))
    except UnicodeDecodeError:
        raise click.ClickException(f"{file.name}: the file is not UTF-8 text") from None
    except OSError as exc:
        raise click.ClickException(f"{file.name}: {exc.strerror or exc}") from None
    except license.LicenseError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from None
    decision = policy.evaluate(ctx.conn, _keys(ctx))
    policy.record(ctx.conn, decision, "cli", audit.cli_actor())
    click.echo(f"installed license {found.license_id} for {found.licensee}: {found.seats} "
               f"seats until {found.not_after:%Y-%m-%d}", err=True)
    if decision.paused:
        click.echo(f"ingestion stays paused: {decision.reason}", err=True)


@license_group.command("status")
@pass_cli
def status(ctx: CliContext) -> None:
    """Print the license, the seats in use and whether ingestion runs.

    Exits 1 while ingestion is paused, or refused because stored keys are wrapped by a
    master key this configuration lacks, so monitoring can alert on it.
    """
    decision = policy.evaluate(ctx.conn, _keys(ctx))
    policy.record(ctx.conn, decision, "system", policy.POLICY_ACTOR)
    found = decision.license
    if found is None:
        click.echo("licensee:  - (no license installed: evaluation allowance)")
        click.echo("expires:   -")
    else:
        click.echo(f"licensee:  {found.licensee} (license {found.license_id}, "
                   f"installed {when(decision.installed_at)})")
        click.echo(f"expires:   {found.not_after.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
                   f"({_relative(found.not_after)})")
    click.echo(f"seats:     {decision.seats_in_use} in use in the last "
               f"{policy.SEAT_WINDOW.days} days, {decision.seats_licensed} licensed "
               f"(ingestion pauses above {decision.seat_limit})")
    # A server with this command's configuration answers 503 to the orgs whose keys its
    # master keys do not open, whatever the license says (/readyz says so too).
    unknown = unconfigured_master_key_ids(ctx.conn, ctx.config["MASTER_KEYS"])
    if decision.paused:
        click.echo(f"ingestion: paused: {decision.reason}")
    elif unknown:
        click.echo("ingestion: refused (503) for orgs whose keys are wrapped by master key "
                   f"{', '.join(unknown)}, which MOJULE_MASTER_KEY and "
                   "MOJULE_MASTER_KEY_PREVIOUS do not hold")
    else:
        click.echo("ingestion: running")
    for note in decision.notes:
        click.echo(f"note:      {note}")
    if decision.paused or unknown:
        sys.exit(1)


@cli.group("ingest")
def ingest_group() -> None:
    """Pause and resume ingestion for the whole installation by hand."""


@ingest_group.command("pause")
@click.option("--reason", required=True, type=Label(max_length=500),
              help="Why; shown to senders and in the audit trail.")
@pass_cli
def pause(ctx: CliContext, reason: str) -> None:
    """Pause ingestion: senders get 503 until `mojule ingest resume`. Reads keep working."""
    actor = audit.cli_actor()
    with ctx.conn.transaction():
        policy.pause_by_hand(ctx.conn, reason, actor)
        policy.record(ctx.conn, policy.evaluate(ctx.conn, _keys(ctx)), "cli", actor)


@ingest_group.command("resume")
@pass_cli
def resume(ctx: CliContext) -> None:
    """Lift a pause made by hand; exits 1 if the license policy still pauses ingestion."""
    actor = audit.cli_actor()
    with ctx.conn.transaction():
        was_paused = policy.resume_by_hand(ctx.conn)
        decision = policy.evaluate(ctx.conn, _keys(ctx))
        policy.record(ctx.conn, decision, "cli", actor)
    if not was_paused:
        click.echo("ingestion was not paused by hand", err=True)
    if decision.paused:
        raise click.ClickException(f"ingestion stays paused: {decision.reason}")


def _keys(ctx: CliContext) -> tuple:
    return license.trusted_keys(ctx.config["LICENSE_PUBLIC_KEYS"])


def _relative(moment: datetime) -> str:
    left = moment - datetime.now(UTC)
    return f"in {left.days} days" if left >= timedelta(0) else f"expired {(-left).days} days ago"
