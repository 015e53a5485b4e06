"""``mojule content erase``: delete a person's content, or a session's, before its window ends."""
from __future__ import annotations

import click

from mojule import erasure, holds
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
@click.option("--reason", required=True, type=Label(holds.MAX_REASON_LENGTH),
              help="Why, e.g. the request's reference (audited).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def content_erase(ctx: CliContext, slug: str, session_id: str | None, seat: str | None,
                  reason: str, yes: bool) -> None:
    """Delete the content (prompts, responses, tool inputs) of a session or of a seat's
    sessions, in one transaction with its audit row. Usage figures stay. Refused, erasing
    nothing, while a legal hold keeps any of it."""
    org = ctx.org(slug)
    what = f"session {session_id}" if session_id else f"seat {seat}"
    if not yes:
        click.confirm(f"Erase the content of {what} in {slug}? This cannot be undone",
                      abort=True)
    with org_transaction(ctx.conn, org.org_id):
        try:
            erased = erasure.erase_content(ctx.conn, org.org_id, reason, session_id, seat)
        except holds.InvalidRequest as exc:
            raise click.UsageError(str(exc)) from None
        except erasure.ContentHeld as exc:
            held = exc
        else:
            held = None
            ctx.record(org.org_id, "content.erase", target_type=erased.kind,
                       target_id=erased.target, reason=reason,
                       details={"erased": erased.values})
    if held is not None:
        # Refused attempts are on the record too, as refused content reads are.
        ctx.audit(org.org_id, "content.erase", outcome="denied",
                  target_type="session" if session_id else "seat",
                  target_id=session_id or seat, reason=f"legal hold(s) {held.hold_ids}",
                  details={"requested_because": reason})
        raise click.ClickException(
            f"legal hold(s) {', '.join(map(str, held.hold_ids))} keep this content; "
            f"nothing was erased (mojule hold list --org {slug})")
    click.echo(f"erased {erased.values} content values of {erased.kind} {erased.target} "
               f"in {slug}", err=True)
