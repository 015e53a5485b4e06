"""``mojule hold ...``: legal holds that keep content past the org's window."""
from __future__ import annotations

import click

from mojule import audit, holds, people
from mojule.cli import CliContext, Label, cli, pass_cli, when
from mojule.db import org_transaction


@cli.group("hold")
def hold() -> None:
    """Keep a session's content, or a seat's, past the org's window (legal holds)."""


@hold.command("place")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--session", "session_id", metavar="SESSION_ID", help="Hold this session's content.")
@click.option("--seat", metavar="EMAIL_OR_ID",
              help="Hold the content of every session of this seat, later ones included: "
                   "an email, or an account or install id, as reports name seats.")
@click.option("--person", metavar="EMAIL",
              help="Hold every seat of this member: a seat hold on their email and on each "
                   "email, account or install id linked to them.")
@click.option("--reason", required=True, type=Label(holds.MAX_REASON_LENGTH),
              help="Why, e.g. the matter's name or number (audited, shown with the hold).")
@pass_cli
def hold_place(ctx: CliContext, slug: str, session_id: str | None, seat: str | None,
               person: str | None, reason: str) -> None:
    """Place a hold: `mojule purge` keeps what it covers until it is released.

    Prints each hold's id alone on a line of stdout (one, or one per seat of --person).
    """
    if person is not None and (session_id or seat):
        raise click.UsageError("Name one session, one seat or one person.")
    org = ctx.org(slug)
    with org_transaction(ctx.conn, org.org_id):
        try:
            if person is not None:
                placed = holds.place_person_holds(ctx.conn, org.org_id, reason,
                                                  audit.cli_actor(), person)
            else:
                placed = [holds.place_hold(ctx.conn, org.org_id, reason, audit.cli_actor(),
                                           session_id=session_id, seat=seat)]
        except holds.InvalidRequest as exc:
            raise click.UsageError(str(exc)) from None
        for hold in placed:
            ctx.record(org.org_id, "hold.place", target_type="hold",
                       target_id=str(hold.hold_id),
                       details={**holds.audit_details(hold), **_person(person)})
    for hold in placed:
        click.echo(f"placed hold {hold.hold_id} on {hold.target} of {slug}: the content of "
                   f"its {hold.sessions} session(s) is kept past the window until the hold "
                   "is released", err=True)
        if not hold.sessions and person is None:
            click.echo(f"warning: {slug} has no session of {hold.target} yet; check the seat "
                       "is written as the Users page writes it", err=True)
    for hold in placed:
        click.echo(hold.hold_id)


def _person(person: str | None) -> dict:
    """The audit details that say a hold was placed for a person's seats."""
    return {} if person is None else {"person": people.normalise_email(person)}


@hold.command("list")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--active", "active_only", is_flag=True, help="Only the holds still active.")
@pass_cli
def hold_list(ctx: CliContext, slug: str, active_only: bool) -> None:
    """List the org's holds, active first: id, what, sessions kept now, placed, released, reason."""
    org = ctx.org(slug)
    with org_transaction(ctx.conn, org.org_id):
        listed = holds.list_holds(ctx.conn, org.org_id, active_only)
    for item in listed:
        released = f"released {when(item.released_at)} by {item.released_by}" \
            if item.released_at else "active"
        click.echo(f"{item.hold_id}\t{item.target}\t{item.sessions} sessions\t"
                   f"placed {when(item.placed_at)} by {item.placed_by}\t{released}\t"
                   f"{item.reason}")


@hold.command("release")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.argument("hold_id", type=click.IntRange(min=1))
@pass_cli
def hold_release(ctx: CliContext, slug: str, hold_id: int) -> None:
    """Release the hold HOLD_ID: the next purge removes what the window no longer keeps."""
    org = ctx.org(slug)
    with org_transaction(ctx.conn, org.org_id):
        try:
            released = holds.release_hold(ctx.conn, org.org_id, hold_id, audit.cli_actor())
        except holds.HoldNotFound:
            raise click.ClickException(f"{slug} has no active hold {hold_id} "
                                       f"(see `mojule hold list --org {slug}`)") from None
        ctx.record(org.org_id, "hold.release", target_type="hold", target_id=str(hold_id),
                   details=holds.audit_details(released))
    click.echo(f"released hold {hold_id} on {released.target} of {slug}", err=True)
