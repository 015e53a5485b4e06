"""Schema setup and upgrades: numbered migrations from ``sql/migrations/``, applied in order.

``mojule init-db`` runs ``apply_migrations``; installing and upgrading are the same
command. Each migration runs in its own transaction together with the row that records
it, under an advisory lock, so two concurrent runs cannot both apply one.
"""
from __future__ import annotations

import re
import secrets
import string
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
        match = MIGRATION_NAME.match(path.name)
        if match is None:
            raise RuntimeError(f"badly named migration file: {path.name}")
        migrations.append(Migration(int(match[1]), match[2], path))
    return migrations


def applied_versions(conn: psycopg.Connection) -> set[int]:
    """Return the versions recorded as applied (empty for a new database)."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return set()
    return {row[0] for row in conn.execute(query("schema_migrations_applied"))}


def pending_migrations(conn: psycopg.Connection) -> list[Migration]:
    """Return the shipped migrations not yet applied to this database."""
    done = applied_versions(conn)
    return [m for m in available_migrations() if m.version not in done]


def apply_migrations(conn: psycopg.Connection) -> list[Migration]:
    """Apply every pending migration and return those applied (none on a second run)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(query("schema_migrations_create"))
    applied = []
    for migration in available_migrations():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            if migration.version in applied_versions(conn):
                continue
            conn.execute(migration.path.read_text(encoding="utf-8"))
            conn.execute(query("schema_migrations_record"),
                         {"version": migration.version, "name": migration.name})
        applied.append(migration)
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


def ensure_app_role(conn: psycopg.Connection, role: str = APP_ROLE,
                    reset_password: bool = False) -> str | None:
    """Create (or update) the role the server connects as; return its new password, if set.

    The role is neither superuser nor owner and cannot bypass row-level security. It gets
    DML on the tenant tables themselves, never on their partitions (partitions carry no
    policies of their own), and only INSERT and SELECT on the audit trail.
    """
    ident = psycopg.sql.Identifier(role)
    password = None
    with conn.transaction():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists or reset_password:
            password = _new_password()
            verb = "CREATE" if not exists else "ALTER"
            conn.execute(psycopg.sql.SQL(
                "{} ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {}"
            ).format(psycopg.sql.SQL(verb), ident, psycopg.sql.Literal(password)))
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


def _new_password() -> str:
    """Return a random password for the app role (base62, so it is safe in a URL)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))
