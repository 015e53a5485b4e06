"""The ``mojule`` command: schema setup, orgs and ingest tokens (more in later modules).

Commands are thin: they parse input, call plain functions that take the connection
first, and print. Quiet on success except for what the operator asked to see; a clear
message and a non-zero exit on failure, so cron can alert.
"""
from __future__ import annotations

import sys

import click
import psycopg

from mojule import config as config_module
from mojule import orgs, schema
from mojule.db import connect


class CliContext:
    """Configuration and one database connection, opened on first use."""

    def __init__(self):
        self._config = None
        self._conn = None

    @property
    def config(self) -> dict:
        if self._config is None:
            try:
                self._config = config_module.load()
            except config_module.ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._config

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None:
            try:
                self._conn = connect(self.config["DATABASE_URL"])
            except psycopg.OperationalError as exc:
                raise click.ClickException(f"cannot connect to MOJULE_DATABASE_URL: {exc}") from None
        return self._conn

    def org(self, slug: str) -> orgs.Org:
        try:
            return orgs.find_org(self.conn, slug)
        except orgs.OrgNotFound:
            raise click.ClickException(f"no org with slug {slug!r}") from None


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


@click.group()
def cli() -> None:
    """Mojule: the receiver and analytics service for Claude Code telemetry."""


@cli.command("init-db")
@pass_cli
def init_db(ctx: CliContext) -> None:
    """Create or upgrade the schema (safe to run again; upgrades use the same command)."""
    applied = schema.apply_migrations(ctx.conn)
    for migration in applied:
        click.echo(f"applied migration {migration.version:04d} {migration.name}", err=True)
    if not applied:
        click.echo("schema is up to date", err=True)


@cli.group()
def org() -> None:
    """Create and inspect orgs (tenants)."""


@org.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (defaults to the slug).")
@click.option("--retention-days", type=click.IntRange(1, 36500), default=orgs.DEFAULT_RETENTION_DAYS,
              show_default=True, help="How long verbatim content is kept.")
@pass_cli
def org_create(ctx: CliContext, slug: str, name: str | None, retention_days: int) -> None:
    """Create the org SLUG."""
    try:
        created = orgs.create_org(ctx.conn, slug, name, retention_days)
    except (orgs.InvalidSlug, orgs.OrgExists) as exc:
        raise click.ClickException(f"{slug!r}: {exc.__doc__}") from None
    click.echo(f"created org {created.slug} (id {created.org_id}, "
               f"content kept {created.retention_days} days)", err=True)


@cli.group()
def token() -> None:
    """Create, list and revoke org ingest tokens (mtk_...)."""


@token.command("create")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.option("--name", default="ingest", show_default=True, help="What the token is for.")
@pass_cli
def token_create(ctx: CliContext, slug: str, name: str) -> None:
    """Create an ingest token; it is printed once, alone on the last line."""
    new_token = orgs.create_ingest_token(ctx.conn, ctx.org(slug), name)
    click.echo(f"ingest token {name!r} for org {slug}; it is shown only now:", err=True)
    click.echo(new_token)


@token.command("list")
@click.option("--org", "slug", required=True, help="The org's slug.")
@pass_cli
def token_list(ctx: CliContext, slug: str) -> None:
    """List an org's ingest tokens (never the tokens themselves)."""
    rows = orgs.list_ingest_tokens(ctx.conn, ctx.org(slug))
    click.echo(f"{'ID':>6}  {'PREFIX':<12}  {'CREATED':<20}  {'LAST USED':<20}  "
               f"{'REVOKED':<20}  NAME")
    for row in rows:
        click.echo(f"{row.token_id:>6}  {row.token_prefix:<12}  {_when(row.created_at):<20}  "
                   f"{_when(row.last_used_at):<20}  {_when(row.revoked_at):<20}  {row.name}")


@token.command("revoke")
@click.option("--org", "slug", required=True, help="The org's slug.")
@click.argument("id_or_prefix")
@pass_cli
def token_revoke(ctx: CliContext, slug: str, id_or_prefix: str) -> None:
    """Revoke a token by its id or its first 12 characters; it is refused from now on."""
    try:
        revoked = orgs.revoke_ingest_token(ctx.conn, ctx.org(slug), id_or_prefix)
    except orgs.TokenNotFound:
        raise click.ClickException(
            f"no single token of org {slug} has id or prefix {id_or_prefix!r}") from None
    click.echo(f"revoked token {revoked.token_id} ({revoked.token_prefix}, {revoked.name})",
               err=True)


def _when(moment) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mojule")


if __name__ == "__main__":
    sys.exit(main())
