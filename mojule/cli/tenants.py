"""``mojule org ...`` and ``mojule token ...``: tenants and their ingest tokens."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from mojule import audit, orgs, tokens
from mojule.budget import InvalidBudget, budget_change, budget_text, parse_budget
from mojule.cli import (
    CliContext,
    Duration,
    Label,
    cli,
    expiry_after,
    pass_cli,
    show_secret,
    when,
)


@cli.group()
def org() -> None:
    """Create, change and delete orgs (tenants)."""


@org.command("create")
@click.argument("slug")
@click.option("--name", type=Label(), help="Display name (defaults to the slug).")
@click.option("--retention-days", type=click.IntRange(1, 36500), default=orgs.DEFAULT_RETENTION_DAYS,
              show_default=True, help="How long verbatim content is kept.")
@pass_cli
def org_create(ctx: CliContext, slug: str, name: str | None, retention_days: int) -> None:
    """Create the org SLUG."""
    try:
        created = orgs.create_org(ctx.conn, slug, name, retention_days)
    except (orgs.InvalidSlug, orgs.OrgExists) as exc:
        raise click.ClickException(f"{slug!r}: {exc.__doc__}") from None
    ctx.audit(created.org_id, "org.create", target_type="org", target_id=slug,
              details={"retention_days": retention_days})
    click.echo(f"created org {created.slug} (id {created.org_id}, "
               f"content kept {created.retention_days} days)", err=True)


@org.command("set")
@click.argument("slug")
@click.option("--name", type=Label(), help="New display name.")
@click.option("--retention-days", type=click.IntRange(1, 36500), help="New content window.")
@click.option("--monthly-budget", "budget", metavar="USD",
              help="Monthly budget in US dollars (e.g. 5000), or 'none'; shown against the "
                   "month's cost, never enforced.")
@pass_cli
def org_set(ctx: CliContext, slug: str, name: str | None, retention_days: int | None,
            budget: str | None) -> None:
    """Change the org SLUG's name, content window or monthly budget."""
    if name is None and retention_days is None and budget is None:
        raise click.UsageError("nothing to change: give --name, --retention-days and/or "
                               "--monthly-budget")
    try:
        budget_usd = None if budget is None else parse_budget(budget)
    except InvalidBudget as exc:
        raise click.BadParameter(str(exc.__doc__), param_hint="--monthly-budget") from None
    before = ctx.org(slug)
    replaced = before.monthly_budget_usd
    with ctx.conn.transaction():
        after = orgs.set_org(ctx.conn, before, name, retention_days)
        if budget is not None:
            after, replaced = orgs.set_monthly_budget(ctx.conn, after, budget_usd)
    ctx.audit(after.org_id, "org.update", target_type="org", target_id=slug, details={
        "retention_days": [before.retention_days, after.retention_days],
        "name_changed": before.name != after.name,
        **budget_change(replaced, after.monthly_budget_usd)})
    click.echo(f"org {slug}: content kept {after.retention_days} days, monthly budget "
               f"{budget_text(after)}", err=True)


@org.command("list")
@pass_cli
def org_list(ctx: CliContext) -> None:
    """List every org."""
    # Read first: a configuration or connection error then prints no header before it.
    listed = orgs.list_orgs(ctx.conn)
    click.echo(f"{'ID':>6}  {'SLUG':<24}  {'RETENTION':>9}  NAME")
    for item in listed:
        click.echo(f"{item.org_id:>6}  {item.slug:<24}  {item.retention_days:>8}d  {item.name}")


@org.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def org_delete(ctx: CliContext, slug: str, yes: bool) -> None:
    """Delete the org SLUG: its data keys first (its content becomes unreadable), then its data."""
    target = ctx.org(slug)
    _refuse_while_held(ctx, target)
    if not yes:
        click.confirm(f"Delete org {slug} and all its data? This cannot be undone", abort=True)
        _refuse_while_held(ctx, target)     # a hold placed while the question was asked
    ctx.audit(target.org_id, "org.delete", target_type="org", target_id=slug)
    # Also in the installation's chain, which outlives the org: it names the id under
    # which the org's own chain stays (mojule audit verify --org-id).
    ctx.audit(audit.INSTALLATION_ORG, "org.delete", target_type="org", target_id=slug,
              details={"org_id": target.org_id})
    try:
        removed = orgs.delete_org(ctx.conn, target)
    except orgs.OrgUnderHold:
        # Placed in the instant since the check above; delete_org changed nothing.
        for chain, details in ((target.org_id, {}),
                               (audit.INSTALLATION_ORG, {"org_id": target.org_id})):
            ctx.audit(chain, "org.delete", outcome="error", target_type="org",
                      target_id=slug, reason="a legal hold was placed; nothing was deleted",
                      details=details)
        raise click.ClickException(f"a legal hold was placed on {slug} meanwhile; "
                                   "nothing was deleted") from None
    summary = ", ".join(f"{table} {count}" for table, count in removed.items() if count)
    click.echo(f"deleted org {slug} (data keys destroyed first); rows removed: {summary or 'none'}",
               err=True)



def _refuse_while_held(ctx: CliContext, target: orgs.Org) -> None:
    try:
        orgs.check_deletable(ctx.conn, target)
    except orgs.OrgUnderHold as exc:
        raise click.ClickException(
            f"{target.slug} has {exc.holds} active legal hold(s), which keep content that "
            f"deleting the org would destroy; release them first "
            f"(mojule hold list --org {target.slug})") from None

@cli.group()
def token() -> None:
    """Create, list, rotate and revoke org ingest tokens (mtk_...)."""


@token.command("create")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--name", type=Label(), default="ingest", show_default=True,
              help="What the token is for.")
@click.option("--expires-in", type=Duration(positive=True), metavar="DURATION",
              help="Refuse the token after this long (e.g. 90d, 12h); default: never.")
@pass_cli
def token_create(ctx: CliContext, slug: str, name: str, expires_in: timedelta | None) -> None:
    """Create an ingest token; it is printed once, alone on the last line."""
    target = ctx.org(slug)
    expires_at = expiry_after(expires_in)
    # The token and its audit row are committed together, once the token was shown.
    with ctx.conn.transaction():
        new_token = orgs.create_ingest_token(ctx.conn, target, name, expires_at)
        ctx.audit(target.org_id, "token.create", target_type="ingest_token",
                  target_id=new_token[:12],
                  details={"name": name, "expires_at": expires_at and expires_at.isoformat()})
        expiry = f", expires {when(expires_at)} UTC" if expires_at else ""
        show_secret(f"ingest token {name!r} for org {slug}{expiry}; it is shown only now:",
                    new_token)


@token.command("list")
@click.option("--org", "slug", required=True, help="The org's slug.")
@pass_cli
def token_list(ctx: CliContext, slug: str) -> None:
    """List an org's ingest tokens (never the tokens themselves)."""
    rows = orgs.list_ingest_tokens(ctx.conn, ctx.org(slug))
    now = datetime.now(UTC)
    click.echo(f"{'ID':>6}  {'PREFIX':<12}  {'CREATED':<20}  {'LAST USED':<20}  "
               f"{'REVOKED':<20}  {'EXPIRES':<20}  {'STATE':<8}  NAME")
    for row in rows:
        click.echo(f"{row.token_id:>6}  {row.token_prefix:<12}  {when(row.created_at):<20}  "
                   f"{when(row.last_used_at):<20}  {when(row.revoked_at):<20}  "
                   f"{when(row.expires_at):<20}  {row.state(now):<8}  {row.name}")


@token.command("rotate")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.argument("id_or_prefix")
@click.option("--overlap", type=Duration(), default="24h", show_default=True,
              metavar="DURATION",
              help="How long the old token keeps working (0s: refused at once).")
@click.option("--expires-in", type=Duration(allow_never=True, positive=True), metavar="DURATION",
              help="Refuse the new token after this long, or never; "
                   "default: as long as the old one was made to last.")
@pass_cli
def token_rotate(ctx: CliContext, slug: str, id_or_prefix: str, overlap: timedelta,
                 expires_in: timedelta | None) -> None:
    """Replace a token by a new one of the same name, printed once on the last line; the
    old one works until the overlap ends, while installations move to the new one."""
    target = ctx.org(slug)
    new_expires = orgs.SAME_LIFETIME if expires_in is None else expiry_after(expires_in)
    try:
        with ctx.conn.transaction():
            new_token, old = orgs.rotate_ingest_token(
                ctx.conn, target, id_or_prefix, datetime.now(UTC) + overlap, new_expires)
            ctx.audit(target.org_id, "token.rotate", target_type="ingest_token",
                      target_id=str(old.token_id), token_id=old.token_id,
                      details={"new_token": new_token[:12],
                               "old_expires_at": old.expires_at.isoformat()})
            show_secret(f"token {old.token_id} ({old.token_prefix}, {old.name}) now expires "
                        f"{when(old.expires_at)} UTC; its replacement is shown only now:",
                        new_token)
    except orgs.TokenNotFound:
        raise click.ClickException(
            f"no single token of org {slug} has id or prefix {id_or_prefix!r}") from None
    except orgs.TokenRevoked:
        raise click.ClickException(
            f"token {id_or_prefix} of org {slug} is revoked; create a new one instead") from None
    except orgs.TokenReplaced as replaced:
        replacement = replaced.replacement
        advice = (f"rotate its replacement, token {replacement.token_id} "
                  f"({replacement.token_prefix}), or revoke it" if replaced.replacement_usable
                  else f"its replacement, token {replacement.token_id}, is "
                       f"{replacement.state(datetime.now(UTC))}: create a new one")
        raise click.ClickException(
            f"token {id_or_prefix} of org {slug} was rotated already; {advice}") from None


@token.command("revoke")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.argument("id_or_prefix")
@pass_cli
def token_revoke(ctx: CliContext, slug: str, id_or_prefix: str) -> None:
    """Revoke a token by its id or its first 12 characters; it is refused from now on."""
    target = ctx.org(slug)
    try:
        revoked = orgs.revoke_ingest_token(ctx.conn, target, id_or_prefix)
    except orgs.TokenNotFound:
        raise click.ClickException(
            f"no single token of org {slug} has id or prefix {id_or_prefix!r}") from None
    except tokens.AlreadyRevoked as earlier:
        click.echo(f"token {id_or_prefix} ({earlier.prefix}) of org {slug} was revoked "
                   f"already, {when(earlier.revoked_at)} UTC; nothing changed", err=True)
        return
    ctx.audit(target.org_id, "token.revoke", target_type="ingest_token",
              target_id=str(revoked.token_id), token_id=revoked.token_id)
    click.echo(f"revoked token {revoked.token_id} ({revoked.token_prefix}, {revoked.name})",
               err=True)
