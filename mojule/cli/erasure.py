"""``mojule content erase``: delete a person's content, or a session's, before its window ends."""
from __future__ import annotations

import click

from mojule import erasure, holds, people
from mojule.cli import CliContext, Label, cli, pass_cli
from mojule.db import org_transaction


@cli.group("content")
def content() -> None:
    """Erase verbatim content ahead of the org's window (erasure requests, leaked secrets)."""


@content.command("erase")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--session", "session_id", metavar="SESSION_ID", help="Erase this session's content.")
@click.option("--seat", metavar="EMAIL_OR_ID",
              help="Erase the content of every session of this seat: an email, or an account "
                   "or install id, as reports name seats.")
@click.option("--person", metavar="EMAIL",
              help="Erase the content of every session of this member's seats: their email "
                   "and each email, account or install id linked to them.")
@click.option("--reason", required=True, type=Label(holds.MAX_REASON_LENGTH),
              help="Why, e.g. the request's reference (audited).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def content_erase(ctx: CliContext, slug: str, session_id: str | None, seat: str | None,
                  person: str | None, reason: str, yes: bool) -> None:
    """Delete the content (prompts, responses, tool inputs) of a session, of a seat's
    sessions or of a person's, in one transaction with its audit row. Usage figures stay.
    Refused, erasing nothing, while a legal hold keeps any of it."""
    if person is not None and (session_id or seat):
        raise click.UsageError("Name one session, one seat or one person.")
    org = ctx.org(slug)
    kind = "person" if person is not None else "session" if session_id else "seat"
    what = f"{kind} {person or session_id or seat}"
    if not yes:
        click.confirm(f"Erase the content of {what} in {slug}? This cannot be undone",
                      abort=True)
    with org_transaction(ctx.conn, org.org_id):
        try:
            if person is not None:
                erased = erasure.erase_person(ctx.conn, org.org_id, reason, person)
            else:
                erased = erasure.erase_content(ctx.conn, org.org_id, reason, session_id, seat)
        except holds.InvalidRequest as exc:
            raise click.UsageError(str(exc)) from None
        except erasure.ContentHeld as exc:
            held = exc
        else:
            held = None
            ctx.record(org.org_id, "content.erase", target_type=erased.kind,
                       target_id=erased.target, reason=reason,
                       details=erasure.audit_details(erased))
    if held is not None:
        # Refused attempts are on the record too, as refused content reads are.
        ctx.audit(org.org_id, "content.erase", outcome="denied", target_type=kind,
                  target_id=(people.normalise_email(person) if person is not None
                             else session_id or seat)[:512],
                  reason=f"legal hold(s) {held.hold_ids}",
                  details={"requested_because": reason})
        raise click.ClickException(
            f"legal hold(s) {', '.join(map(str, held.hold_ids))} keep this content; "
            f"nothing was erased (mojule hold list --org {slug})")
    click.echo(f"erased {erased.values} content values of {erased.kind} {erased.target} "
               f"in {slug}" + (f" (seats {', '.join(erased.seats)})" if erased.seats else ""),
               err=True)
