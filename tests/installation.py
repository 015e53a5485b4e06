"""The installation the license and operations tests share: a database of its own, and
licenses signed with a key made for this test run.

Licenses, the manual pause and the seats in use belong to the installation, not to an
org, so the tests that change them cannot use the session's database, which every other
test shares. The built-in vendor key's private half exists nowhere in the repository:
every license here is trusted through MOJULE_LICENSE_PUBLIC_KEYS, exactly as a customer's
own test key would be. A test module takes the fixtures by importing their functions
(``installation_fixture``, ``site_fixture``, ...); the fixture names have no suffix.
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mojule import audit, license, schema
from mojule.db import connect
from mojule.dev import ensure_database

SIGNING_KEY = Ed25519PrivateKey.generate()
SIGNING_PUBLIC = SIGNING_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
KEYS = license.trusted_keys([SIGNING_PUBLIC])


def fields(**changes) -> dict:
    """A license's fields: 50 seats for 2026, with ``changes``."""
    return {"license_id": "lic-test-0001", "licensee": "Example Corp", "seats": 50,
            "issued_at": "2026-01-01T00:00:00Z", "not_after": "2027-01-01T00:00:00Z", **changes}


def signed(key: Ed25519PrivateKey = SIGNING_KEY, **changes) -> str:
    return license.sign(fields(**changes), key)


@dataclass
class Installation:
    url: str            # superuser: sees every org
    app_url: str        # the app role, held to row-level security


@pytest.fixture(scope="session", name="installation")
def installation_fixture(server_url, app_database_url) -> Iterator[Installation]:
    """A database of its own, for tests that change installation-wide state."""
    name = f"mojule_license_{uuid.uuid4().hex[:8]}"
    url = ensure_database(server_url, name)
    with connect(url) as conn:
        schema.apply_migrations(conn)
        schema.ensure_app_role(conn)        # the role exists already: this only grants
    password = psycopg.conninfo.conninfo_to_dict(app_database_url)["password"]
    yield Installation(url, psycopg.conninfo.make_conninfo(url, user=schema.APP_ROLE,
                                                           password=password))
    with connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(name="site")
def site_fixture(installation) -> Iterator[psycopg.Connection]:
    """A superuser connection to the installation database: no license, no pause, no seats."""
    with connect(installation.url) as conn:
        conn.execute("DELETE FROM licenses")
        conn.execute("DELETE FROM ingest_pause")
        conn.execute("DELETE FROM license_seats")
        conn.execute("DELETE FROM license_seat_aliases")
        conn.execute("UPDATE ingest_state SET paused = false, reason = ''")
        yield conn


@pytest.fixture(name="site_env")
def site_env_fixture(installation, master_key) -> dict[str, str]:
    """The CLI's environment for the installation database."""
    return {"MOJULE_DATABASE_URL": installation.app_url, "MOJULE_MASTER_KEY": master_key,
            "MOJULE_LICENSE_PUBLIC_KEYS": base64.b64encode(SIGNING_PUBLIC).decode()}


@pytest.fixture(name="site_config")
def site_config_fixture(installation, master_key) -> dict:
    """App settings for the installation database; the policy is evaluated on every request."""
    return {"DATABASE_URL": installation.app_url, "MASTER_KEY": master_key, "POOL_SIZE": 2,
            "LICENSE_PUBLIC_KEYS": (SIGNING_PUBLIC,), "LICENSE_CHECK_SECONDS": 0}


def installation_audit(conn: psycopg.Connection, after: int = 0) -> list[dict]:
    """The installation's audit rows (org 0) after ``after``."""
    with conn.transaction():
        conn.execute("SELECT set_config('mojule.org_id', '0', true)")
        return list(audit.rows(conn, audit.INSTALLATION_ORG, after_id=after))


def last_audit_id(conn: psycopg.Connection) -> int:
    rows = installation_audit(conn)
    return rows[-1]["audit_id"] if rows else 0


def seat_export(session_id: str | None = None, events: int = 1, **seat: str) -> bytes:
    """A log export of ``events`` events of a session (new unless given) of the seat named
    by ``seat`` (its user.* attributes)."""
    session_id = session_id or str(uuid.uuid4())
    identity = {f"user.{key}": value for key, value in seat.items()}
    records = [{"timeUnixNano": str(time.time_ns()),
                "body": {"stringValue": "claude_code.user_prompt"},
                "attributes": [{"key": key, "value": {"stringValue": value}} for key, value in {
                    "session.id": session_id, "event.name": "user_prompt",
                    "event.sequence": str(sequence), **identity}.items()]}
               for sequence in range(1, events + 1)]
    return json.dumps({"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [
        {"scope": {"name": "com.anthropic.claude_code.events"},
         "logRecords": records}]}]}).encode()
