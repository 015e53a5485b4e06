"""``mojule init-db``: create or upgrade the schema and the app's database role."""
from __future__ import annotations

import click
import psycopg

from mojule import orgs, rollup, schema, usage_days
from mojule.cli import CliContext, cli, pass_cli


@cli.command("init-db")
@click.option("--app-role", default=schema.APP_ROLE, show_default=True,
              help="The role the server connects as (created if missing).")
@click.option("--reset-app-password", is_flag=True, help="Give the app role a new password.")
@pass_cli
def init_db(ctx: CliContext, app_role: str, reset_app_password: bool) -> None:
    """Create or upgrade the schema (safe to run again; upgrades use the same command).

    Connects with MOJULE_OWNER_DATABASE_URL when set (the role that owns the schema),
    else MOJULE_DATABASE_URL.
    """
    url = ctx.config["OWNER_DATABASE_URL"] or ctx.config["DATABASE_URL"]
    variable = "MOJULE_OWNER_DATABASE_URL" if ctx.config["OWNER_DATABASE_URL"] \
        else "MOJULE_DATABASE_URL"
    with ctx.connect(url, variable) as conn:
        try:
            applied = schema.apply_migrations(conn)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise click.ClickException(
                f"cannot change the schema as role {conn.info.user!r} ({variable}): "
                f"{exc.diag.message_primary}. mojule init-db must connect as the role that "
                "owns the database's schema: set MOJULE_OWNER_DATABASE_URL to it") from None
        for migration in applied:
            click.echo(f"applied migration {migration.version:04d} {migration.name}", err=True)
        if not applied:
            click.echo("schema is up to date", err=True)
        # Granted before the recount, which may take minutes or be stopped: the server
        # and `mojule purge` need the new tables at once.
        try:
            password = schema.ensure_app_role(conn, app_role, reset_app_password)
        except psycopg.errors.InsufficientPrivilege as exc:
            detail = f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""
            raise click.ClickException(
                f"cannot create or grant role {app_role!r} as role {conn.info.user!r}: "
                f"{exc.diag.message_primary}{detail}. Connect as a role with CREATEROLE "
                "that owns the schema") from None
        except schema.UnsafeAppRole as exc:
            raise click.ClickException(str(exc)) from None
        # What a migration listed for recounting (usage_recount), a batch per transaction.
        for org in orgs.list_orgs(conn):
            recounted = rollup.recount_pending(conn, org.org_id)
            if recounted:
                click.echo(f"{org.slug}: recounted the usage of {recounted} session(s)",
                           err=True)
        _sum_usage_days(conn)
        if password:
            app_url = psycopg.conninfo.make_conninfo(url, user=app_role, password=password)
            click.echo(f"The server must connect as {app_role} (not superuser, not owner, "
                       "row-level security applies). Set, and keep secret:", err=True)
            click.echo(f"MOJULE_DATABASE_URL='{app_url}'")
        else:
            click.echo(f"app role {app_role} is ready (password unchanged; "
                       "--reset-app-password sets a new one)", err=True)


def _sum_usage_days(conn: psycopg.Connection) -> None:
    """Sum every org's past days for reports (migration 0021); the daily purge goes on."""
    try:
        clock = usage_days.settle(conn)
    except usage_days.NotSettled as exc:
        click.echo(f"usage days not summed: {exc}; the next `mojule purge` sums them "
                   "(reports are exact meanwhile)", err=True)
        return
    for org in orgs.list_orgs(conn):
        summed = usage_days.sum_days(conn, org.org_id, clock)
        if summed:
            click.echo(f"{org.slug}: summed the usage of {summed} day(s)", err=True)
