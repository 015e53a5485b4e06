"""``mojule user ...``: an org's people, their roles, linked seat identities and API tokens."""
from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import click

from mojule import people, tokens
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


def _user(ctx: CliContext, slug: str, email: str) -> people.User:
    target = ctx.org(slug)
    try:
        return people.find_user(ctx.conn, target.org_id, email)
    except (people.UserNotFound, people.InvalidEmail) as exc:
        raise click.ClickException(f"{email!r}: {exc.__doc__}") from None


def _check_admin_remains(ctx: CliContext, slug: str, target: people.User) -> None:
    try:
        people.check_admin_remains(ctx.conn, target)
    except people.LastAdmin:
        raise click.ClickException(
            f"{target.email} is the only admin of {slug}: nobody would be "
            "left to manage its people, tokens and content. Make another admin first "
            "(mojule user set-role --role admin, or user create --role admin).") from None


@cli.group()
def user() -> None:
    """Create and manage an org's users (admins, analysts, members) and their tokens."""


ROLE_HELP = ("member: their own sessions; analyst: the whole org's usage and sessions, no "
             "one's content but their own, no changes; admin: everything, content included.")


@user.command("create")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email (their sign-in).")
@click.option("--role", type=click.Choice(people.ROLES), default="member", show_default=True,
              help=ROLE_HELP)
@pass_cli
def user_create(ctx: CliContext, slug: str, email: str, role: str) -> None:
    """Create a user of the org."""
    target = ctx.org(slug)
    try:
        created = people.create_user(ctx.conn, target.org_id, email, role)
    except (people.InvalidEmail, people.UserExists) as exc:
        raise click.ClickException(f"{email!r}: {exc.__doc__}") from None
    ctx.audit(target.org_id, "user.create", target_type="user", target_id=created.email,
              details={"role": role})
    click.echo(f"created {role} {created.email} in org {slug}", err=True)


@user.command("set-password")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@pass_cli
def user_set_password(ctx: CliContext, slug: str, email: str) -> None:
    """Set the user's dashboard password, read from standard input."""
    target = _user(ctx, slug, email)
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        try:
            # Standard input may decode bytes that are not UTF-8 as lone surrogates.
            password = sys.stdin.readline().rstrip("\r\n")
            password.encode("utf-8")
        except UnicodeError:
            raise click.ClickException("the password on standard input is not UTF-8 text") from None
    try:
        people.set_password(ctx.conn, target, password)
    except people.WeakPassword as exc:
        raise click.ClickException(str(exc)) from None
    ctx.audit(target.org_id, "user.set_password", target_type="user", target_id=target.email)
    click.echo(f"password set for {target.email}", err=True)


@user.command("password-link")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@click.option("--base-url", required=True, metavar="URL",
              help="The dashboard's address, e.g. https://mojule.example.com.")
@pass_cli
def user_password_link(ctx: CliContext, slug: str, email: str, base_url: str) -> None:
    """Make a one-time link with which the user sets their own password (72 hours; a newer
    link replaces it); printed once, alone on the last line."""
    parsed = urlsplit(base_url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query \
            or parsed.fragment:
        raise click.BadParameter("give the dashboard's address, such as "
                                 "https://mojule.example.com", param_hint="--base-url")
    target = _user(ctx, slug, email)
    with ctx.conn.transaction():
        secret, expires_at = people.create_password_link(ctx.conn, target)
        ctx.audit(target.org_id, "user.password_link", target_type="user",
                  target_id=target.email,
                  details={"expires_at": expires_at.isoformat(timespec="seconds")})
        link = f"{base_url.strip().rstrip('/')}/password?{urlencode({'link': secret})}"
        show_secret(f"password link for {target.email}, until {when(expires_at)} UTC; send "
                    "it to them alone, it is shown only now:", link)


@user.command("set-role")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@click.option("--role", type=click.Choice(people.ROLES), required=True, help=ROLE_HELP)
@pass_cli
def user_set_role(ctx: CliContext, slug: str, email: str, role: str) -> None:
    """Change the user's role."""
    target = _user(ctx, slug, email)
    if role == target.role:
        click.echo(f"{target.email} is {role} already; nothing changed", err=True)
        return
    with ctx.conn.transaction():
        if role != "admin":
            _check_admin_remains(ctx, slug, target)
        people.set_role(ctx.conn, target, role)
        ctx.audit(target.org_id, "user.set_role", target_type="user", target_id=target.email,
                  details={"role": [target.role, role]})
    click.echo(f"{target.email} is now {role}", err=True)


@user.command("list")
@click.option("--org", "slug", required=True, help="The org's slug.")
@pass_cli
def user_list(ctx: CliContext, slug: str) -> None:
    """List the org's users."""
    found = people.list_users(ctx.conn, ctx.org(slug).org_id)
    click.echo(f"{'ID':>6}  {'ROLE':<7}  {'CREATED':<20}  EMAIL")
    for item in found:
        click.echo(f"{item.user_id:>6}  {item.role:<7}  {when(item.created_at):<20}  {item.email}")


@user.command("delete")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@pass_cli
def user_delete(ctx: CliContext, slug: str, email: str) -> None:
    """Delete the user with their tokens and linked identities."""
    target = _user(ctx, slug, email)
    with ctx.conn.transaction():
        _check_admin_remains(ctx, slug, target)
        dropped = people.delete_user(ctx.conn, target)
        ctx.audit(target.org_id, "user.delete", target_type="user", target_id=target.email,
                  details=dropped)
    click.echo(f"deleted {target.email}", err=True)


@user.command("link")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@click.option("--identity", required=True,
              help="account_uuid:<uuid>, user_id:<id> or email:<address> seen in telemetry.")
@pass_cli
def user_link(ctx: CliContext, slug: str, email: str, identity: str) -> None:
    """Link a seat identity to the user: the sessions whose seat it is are theirs (a
    session naming it beside another person's email stays that person's)."""
    target = _user(ctx, slug, email)
    try:
        kind, value = people.parse_identity(identity)
    except (people.InvalidIdentity, people.InvalidEmail) as exc:
        raise click.ClickException(f"{identity!r}: {exc.__doc__}") from None
    people.link_identity(ctx.conn, target, kind, value)
    ctx.audit(target.org_id, "user.link", target_type="user", target_id=target.email,
              details={"kind": kind, "value": value})
    click.echo(f"linked {kind} {value} to {target.email}", err=True)


@user.command("unlink")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@click.option("--identity", required=True,
              help="account_uuid:<uuid>, user_id:<id> or email:<address> linked to the user.")
@pass_cli
def user_unlink(ctx: CliContext, slug: str, email: str, identity: str) -> None:
    """Unlink a seat identity from the user: its sessions are no longer theirs."""
    target = _user(ctx, slug, email)
    try:
        kind, value = people.parse_identity(identity)
    except (people.InvalidIdentity, people.InvalidEmail) as exc:
        raise click.ClickException(f"{identity!r}: {exc.__doc__}") from None
    with ctx.conn.transaction():
        try:
            people.unlink_identity(ctx.conn, target, kind, value)
        except LookupError:
            raise click.ClickException(
                f"{kind}:{value} is not linked to {target.email}") from None
        ctx.audit(target.org_id, "user.unlink", target_type="user", target_id=target.email,
                  details={"kind": kind, "value": value})
    click.echo(f"unlinked {kind} {value} from {target.email}", err=True)


@user.command("token")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@click.option("--name", type=Label(), default="api", show_default=True,
              help="What the token is for.")
@click.option("--expires-in", type=Duration(positive=True), metavar="DURATION",
              help="Refuse the token after this long (e.g. 90d, 12h); default: never.")
@click.option("--reads-content", is_flag=True,
              help="Let the token read content (prompts, responses, commands) its user may "
                   "read; without it, it reads usage only.")
@pass_cli
def user_token(ctx: CliContext, slug: str, email: str, name: str,
               expires_in: timedelta | None, reads_content: bool) -> None:
    """Create a personal access token (mut_...); printed once, alone on the last line."""
    target = _user(ctx, slug, email)
    expires_at = expiry_after(expires_in)
    with ctx.conn.transaction():
        new_token = people.create_user_token(ctx.conn, target, name, expires_at,
                                             reads_content=reads_content)
        ctx.audit(target.org_id, "user_token.create", target_type="user",
                  target_id=target.email,
                  details={"name": name, "prefix": new_token[:12],
                           "expires_at": expires_at and expires_at.isoformat(),
                           "reads_content": reads_content})
        expiry = f", expires {when(expires_at)} UTC" if expires_at else ""
        access = "reads usage and content" if reads_content else "reads usage, no content"
        show_secret(f"API token {name!r} for {target.email}{expiry}, {access}; it is shown "
                    "only now:", new_token)


@user.command("tokens")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@pass_cli
def user_tokens(ctx: CliContext, slug: str, email: str) -> None:
    """List the user's API tokens (never the tokens themselves)."""
    found = people.list_user_tokens(ctx.conn, _user(ctx, slug, email))
    now = datetime.now(UTC)
    click.echo(f"{'ID':>6}  {'PREFIX':<12}  {'CREATED':<20}  {'LAST USED':<20}  "
               f"{'REVOKED':<20}  {'EXPIRES':<20}  {'CONTENT':<7}  {'STATE':<8}  NAME")
    for row in found:
        click.echo(f"{row.token_id:>6}  {row.token_prefix:<12}  {when(row.created_at):<20}  "
                   f"{when(row.last_used_at):<20}  {when(row.revoked_at):<20}  "
                   f"{when(row.expires_at):<20}  {'yes' if row.reads_content else 'no':<7}  "
                   f"{row.state(now):<8}  {row.name}")


@user.command("token-revoke")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--email", required=True, help="The user's email.")
@click.argument("id_or_prefix")
@pass_cli
def user_token_revoke(ctx: CliContext, slug: str, email: str, id_or_prefix: str) -> None:
    """Revoke one of the user's API tokens by id or first 12 characters."""
    target = _user(ctx, slug, email)
    try:
        revoked = people.revoke_user_token(ctx.conn, target, id_or_prefix)
    except LookupError:
        raise click.ClickException(
            f"no single token of {target.email} has id or prefix {id_or_prefix!r}") from None
    except tokens.AlreadyRevoked as earlier:
        click.echo(f"token {id_or_prefix} ({earlier.prefix}) of {target.email} was revoked "
                   f"already, {when(earlier.revoked_at)} UTC; nothing changed", err=True)
        return
    ctx.audit(target.org_id, "user_token.revoke", target_type="user", target_id=target.email,
              token_id=revoked.token_id)
    click.echo(f"revoked token {revoked.token_id} ({revoked.token_prefix})", err=True)
