"""``mojule init-db``: create or upgrade the schema and the app's database role."""
from __future__ import annotations

import re

import click
import psycopg

from mojule import orgs, rollup, schema, usage_days
from mojule.cli import CliContext, cli, pass_cli, reconciled
from mojule.db import connection_url, org_transaction

# A role name that needs no quoting, in SQL or in the URL init-db prints for the shell.
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _role_name(ctx, param, value: str) -> str:
    if not ROLE_NAME.fullmatch(value):
        raise click.BadParameter("must be 1 to 63 lower-case letters, digits or _, "
                                 "not starting with a digit")
    return value


@cli.command("init-db")
@click.option("--app-role", default=schema.APP_ROLE, show_default=True, callback=_role_name,
              help="The role the server connects as (created if missing).")
@click.option("--reset-app-password", is_flag=True, help="Give the app role a new password.")
@pass_cli
def init_db(ctx: CliContext, app_role: str, reset_app_password: bool) -> None:
    """Create or upgrade the schema (safe to run again; upgrades use the same command).

    Connects with MOJULE_OWNER_DATABASE_URL when set (the role that owns the schema),
    else MOJULE_DATABASE_URL. On a first install only the former need be set: this
    prints the app role's URL for the latter.
    """
    ctx.optional_settings = frozenset({"MOJULE_DATABASE_URL"})
    owner_url = ctx.config["OWNER_DATABASE_URL"]
    url, variable = ((owner_url, "MOJULE_OWNER_DATABASE_URL") if owner_url
                     else (ctx.config["DATABASE_URL"], "MOJULE_DATABASE_URL"))
    if not url:
        raise click.ClickException("set MOJULE_OWNER_DATABASE_URL (the role that owns the "
                                   "schema) or MOJULE_DATABASE_URL")
    with ctx.connect(url, variable) as conn:
        user = conn.info.user
        try:
            applied = schema.apply_migrations(conn, on_applied=lambda migration: click.echo(
                f"applied migration {migration.version:04d} {migration.name}", err=True))
        except psycopg.Error as exc:
            raise click.ClickException(_migration_failure(exc, user, variable)) from None
        if not applied:
            click.echo("schema is up to date", err=True)
        # Granted before the recount, which may take minutes or be stopped: the server
        # and `mojule purge` need the new tables at once.
        try:
            password = schema.ensure_app_role(conn, app_role, reset_app_password)
        except psycopg.errors.InsufficientPrivilege as exc:
            detail = f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""
            raise click.ClickException(
                f"cannot create or grant role {app_role!r} as role {user!r}: "
                f"{exc.diag.message_primary}{detail}. Connect as a role with CREATEROLE "
                "that owns the schema") from None
        except schema.UnsafeAppRole as exc:
            raise click.ClickException(str(exc)) from None
        for org in orgs.list_orgs(conn):
            # What the daily purge settles, at once: seats a migration merged (0026) may
            # show a session's cost counted by its seat's events already.
            with org_transaction(conn, org.org_id):
                settled = rollup.reconcile_unattributed(conn, org.org_id)
            if settled:
                click.echo(reconciled(org.slug, settled), err=True)
            # What a migration listed for recounting (usage_recount), a batch per
            # transaction.
            recounted = rollup.recount_pending(conn, org.org_id)
            if recounted:
                click.echo(f"{org.slug}: recounted the usage of {recounted} session(s)",
                           err=True)
        _sum_usage_days(conn)
        if password:
            app_url = connection_url(url, user=app_role, password=password)
            click.echo(f"The server must connect as {app_role} (not superuser, not owner, "
                       "row-level security applies). Set, and keep secret:", err=True)
            click.echo(f"MOJULE_DATABASE_URL='{app_url}'")
        else:
            click.echo(f"app role {app_role} is ready (password unchanged; "
                       "--reset-app-password sets a new one)", err=True)


def _migration_failure(exc: psycopg.Error, user: str, variable: str) -> str:
    """Say what failed, as whom, and what to do: the schema needs its owner, and a failed
    migration left nothing of itself (those reported applied before it stay)."""
    notes = getattr(exc, "__notes__", ())
    where = f" in {notes[0]}" if notes else ""
    message = (f"cannot change the schema as role {user!r} ({variable}){where}: "
               f"{exc.diag.message_primary or exc}.")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        if variable == "MOJULE_DATABASE_URL":
            return (f"{message} mojule init-db must connect as the role that owns the "
                    "database's schema: set MOJULE_OWNER_DATABASE_URL to it")
        return (f"{message} The role of MOJULE_OWNER_DATABASE_URL must own the database's "
                "schema and every table in it (after a restore, restore as that role)")
    return (f"{message} Nothing of that migration was applied; fix the cause and run "
            "mojule init-db again")


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
