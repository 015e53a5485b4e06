"""Upgrades as an operator runs them (docs/deploy/upgrade.rst): the schema of a previous
release, then `mojule init-db` while that release still ingests."""
from __future__ import annotations

import threading
import time
from datetime import datetime

import psycopg

from mojule import schema
from mojule.db import connect


def install_release_before(url: str, version: int, monkeypatch) -> None:
    """Apply the migrations before ``version``, as the release before it did."""
    every = schema.available_migrations()
    with monkeypatch.context() as previous:
        previous.setattr(schema, "available_migrations",
                         lambda: [m for m in every if m.version < version])
        with connect(url) as conn:
            schema.apply_migrations(conn)


def start_upgrade(url: str) -> tuple[threading.Thread, dict]:
    """Start applying the migrations left, in a thread; its outcome gets "applied" (their
    versions) or "migration" (the error)."""
    outcome: dict = {}

    def migrate() -> None:
        try:
            with connect(url) as conn:
                outcome["applied"] = [m.version for m in schema.apply_migrations(conn)]
        except psycopg.Error as exc:
            outcome["migration"] = repr(exc)

    upgrade = threading.Thread(target=migrate)
    upgrade.start()
    return upgrade, outcome


def upgrade_while_ingesting(url: str, org_id: int, when: datetime,
                            resource_attributes: str = "{}") -> dict:
    """Upgrade while a worker of the previous release, in one transaction, has upserted
    its session at ``when`` (which locks sessions) and then writes the usage of its quarter
    hour (whose triggers write session_usage and note past days); return the upgrade's
    outcome, once both are done."""
    session = {"org_id": org_id, "session_id": "s1", "seat_identity": "dev@example.com",
               "user_email": "dev@example.com", "user_account_uuid": None, "user_id": None,
               "organization_uuid": None, "first_seen": when, "last_seen": when,
               "app_version": "2.1.328", "terminal_type": "vscode", "service_name": None,
               "resource_attributes": resource_attributes, "unattributed": False,
               "agents_view": False}
    bucket = when.replace(minute=when.minute - when.minute % 15, second=0, microsecond=0)
    with connect(url) as worker:
        with worker.transaction():
            worker.execute("SELECT set_config('mojule.org_id', %s, true)", (str(org_id),))
            # What the previous release's sql/session_upsert.sql does for a new session;
            # today's statement names columns that release does not have.
            worker.execute(
                "INSERT INTO sessions (org_id, session_id, seat_identity, user_email,"
                " user_account_uuid, user_id, organization_uuid, first_seen, last_seen,"
                " app_version, terminal_type, service_name, resource_attributes, unattributed,"
                " agents_view) VALUES (%(org_id)s, %(session_id)s, %(seat_identity)s,"
                " %(user_email)s, %(user_account_uuid)s, %(user_id)s, %(organization_uuid)s,"
                " %(first_seen)s, %(last_seen)s, %(app_version)s, %(terminal_type)s,"
                " %(service_name)s, %(resource_attributes)s, %(unattributed)s,"
                " %(agents_view)s)", session)
            upgrade, outcome = start_upgrade(url)
            time.sleep(1)   # the migration is now waiting on a lock
            worker.execute("INSERT INTO usage_rollup (org_id, session_id, bucket, facts,"
                           " api_requests, usage_points, tool_calls)"
                           " VALUES (%s, 's1', %s, 1, 0, 0, 1)", (org_id, bucket))
        upgrade.join(timeout=60)
    return outcome
