"""Schema setup and upgrades: numbered migrations from ``sql/migrations/``, applied in order.

``mojule init-db`` runs ``apply_migrations``; installing and upgrading are the same
command. Each migration runs in its own transaction together with the row that records
it, under an advisory lock, so two concurrent runs cannot both apply one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg

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
