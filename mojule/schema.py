"""Schema setup and upgrades: numbered migrations from ``sql/migrations/``, applied in order.

``mojule init-db`` runs ``apply_migrations``; installing and upgrading are the same
command. Each migration runs in its own transaction together with the row that records
it, under an advisory lock, so two concurrent runs cannot both apply one.
"""
from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg
import psycopg.sql

from mojule.db import SQL_DIR, query

MIGRATIONS_DIR = SQL_DIR / "migrations"
MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
PARTITIONED_TABLES = ("log_events", "metric_points", "spans", "content_values")
# Any number unlikely to collide with another application's advisory locks.
MIGRATION_LOCK = 0x6D6F6A756C65


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available_migrations() -> list[Migration]:
    """Return the migrations shipped with this release, in version order."""
    migrations = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = MIGRATION_NAME.fullmatch(path.name)
        if match is None:
            raise RuntimeError(f"badly named migration file: {path.name}")
        migrations.append(Migration(int(match[1]), match[2], path))
    return migrations


def applied_versions(conn: psycopg.Connection) -> set[int]:
    """Return the versions recorded as applied (empty for a new database)."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return set()
    return {row[0] for row in conn.execute(query("schema_migrations_applied"))}


def pending_migrations(conn: psycopg.Connection,
                       shipped: list[Migration] | None = None) -> list[Migration]:
    """Return the migrations of ``shipped`` (default: those on disk) not yet applied."""
    done = applied_versions(conn)
    return [m for m in (shipped or available_migrations()) if m.version not in done]


def apply_migrations(conn: psycopg.Connection,
                     on_applied: Callable[[Migration], None] | None = None) -> list[Migration]:
    """Apply every pending migration and return those applied (none on a second run).

    ``on_applied`` is called with each as it commits. A migration that fails leaves those
    before it applied and nothing of itself; its error carries a note naming it.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(query("schema_migrations_create"))
    applied = []
    for migration in available_migrations():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            if migration.version in applied_versions(conn):
                continue
            try:
                conn.execute(migration.path.read_text(encoding="utf-8"))
            except psycopg.Error as exc:
                exc.add_note(f"migration {migration.version:04d} {migration.name}")
                raise
            conn.execute(query("schema_migrations_record"),
                         {"version": migration.version, "name": migration.name})
        applied.append(migration)
        if on_applied:
            on_applied(migration)
    ensure_partitions(conn, date.today() - timedelta(days=31), date.today() + timedelta(days=62))
    return applied


def ensure_partitions(conn: psycopg.Connection, first: date, last: date) -> None:
    """Create the monthly partitions of every telemetry table from ``first`` to ``last``."""
    month = first.replace(day=1)
    while month <= last:
        for parent in PARTITIONED_TABLES:
            conn.execute(query("partition_ensure"), {"parent": parent, "day": month})
        month = (month + timedelta(days=32)).replace(day=1)


APP_ROLE = "mojule_app"
# Tables the app role may only append to and read.
APPEND_ONLY_TABLES = ("audit_log",)


class UnsafeAppRole(Exception):
    """The app role exists with attributes that would let the server past row-level
    security, or keep it from connecting."""


def ensure_app_role(conn: psycopg.Connection, role: str = APP_ROLE,
                    reset_password: bool = False) -> str | None:
    """Create (or update) the role the server connects as; return its new password, if set.

    The role is neither superuser nor owner and cannot bypass row-level security. It gets
    DML on the tenant tables themselves, never on their partitions (partitions carry no
    policies of their own), and only INSERT and SELECT on the audit trail. Raises
    UnsafeAppRole for an existing role that could bypass row-level security or not log in.
    """
    ident = psycopg.sql.Identifier(role)
    password = None
    with conn.transaction():
        existing = conn.execute(query("app_role_attributes"), (role,)).fetchone()
        if existing is None:
            password = _new_password()
            conn.execute(psycopg.sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {}"
            ).format(ident, psycopg.sql.Literal(password)))
        else:
            _check_existing_app_role(role, conn.info.user, *existing)
            if reset_password:
                # Only the password: the schema owner is not a superuser, and PostgreSQL
                # lets only a superuser (or a role holding the attribute) name SUPERUSER,
                # BYPASSRLS or CREATEDB in ALTER ROLE, even to turn them off.
                password = _new_password()
                conn.execute(psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    ident, psycopg.sql.Literal(password)))
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(psycopg.sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            psycopg.sql.Identifier(database), ident))
        conn.execute(psycopg.sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        conn.execute(psycopg.sql.SQL(
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident))
        for (table,) in conn.execute(query("app_role_tables")).fetchall():
            privileges = "SELECT, INSERT" if table in APPEND_ONLY_TABLES else \
                "SELECT, INSERT, UPDATE, DELETE"
            conn.execute(psycopg.sql.SQL("GRANT {} ON {} TO {}").format(
                psycopg.sql.SQL(privileges), psycopg.sql.Identifier(table), ident))
    return password


def _check_existing_app_role(role: str, owner: str, superuser: bool, bypasses_rls: bool,
                             creates_roles: bool, acts_as_owner: bool, can_login: bool) -> None:
    """Raise UnsafeAppRole when the role found could get past row-level security or cannot
    log in: the server would see every org's rows, or not start."""
    another = "or name another role with --app-role"
    if superuser or bypasses_rls:
        attribute = "SUPERUSER" if superuser else "BYPASSRLS"
        raise UnsafeAppRole(
            f"role {role!r} exists with {attribute}: row-level security would not hold for "
            f"the server. Have a superuser run ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS, "
            f"{another}")
    if creates_roles:
        raise UnsafeAppRole(
            f"role {role!r} exists with CREATEROLE: it could make itself a role that row-level "
            f"security does not hold for. Have a superuser run ALTER ROLE {role} NOCREATEROLE, "
            f"{another}")
    if acts_as_owner:
        raise UnsafeAppRole(
            f"role {role!r} exists as a member of {owner!r}, the schema owner: it could act "
            f"as the owner and turn row-level security off. Have a superuser run REVOKE "
            f"{owner} FROM {role}, {another}")
    if not can_login:
        raise UnsafeAppRole(
            f"role {role!r} exists without LOGIN, so the server cannot connect as it. Have "
            f"a superuser or its admin run ALTER ROLE {role} LOGIN, {another}")


def _new_password() -> str:
    """Return a random password for the app role (base62, so it is safe in a URL)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))
