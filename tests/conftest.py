"""Test fixtures: a real PostgreSQL, the schema built once, a fresh org per test.

PostgreSQL is the server in MOJULE_TEST_DATABASE_URL (its user must be able to create
databases) or, when that is unset, a throwaway embedded one. Tests are isolated by
tenancy: each gets its own org and token, exactly as two customers would be.
"""
from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import settings

from mojule import create_app, license, orgs, people, schema
from mojule.crypto import generate_master_key
from mojule.db import close_pool, connect
from mojule.dev import ensure_database, start_embedded_postgres

FIXTURES = Path(__file__).parent / "fixtures"

# tests.live is both a plugin (test_live.py, test_interop.py) and a module others import
# first (test_dashboard_browser.py): rewrite its asserts whichever loads it.
pytest.register_assert_rewrite("tests.live")

# Generated tests (tests/test_ingest_fuzz.py): the suite runs a few hundred examples each
# with a fixed seed, so a run is repeatable and its time known; `make fuzz` loads "fuzz"
# (pytest --hypothesis-profile=fuzz) for the security bar's 100,000 bodies that reach the
# ingest handler (34,000 of each of the three body shapes), freshly drawn.
# No example database: nothing is written into the checkout.
settings.register_profile("suite", max_examples=300, deadline=None, derandomize=True,
                          database=None)
settings.register_profile("fuzz", max_examples=34_000, deadline=None, database=None)
settings.load_profile("suite")


@dataclass
class TestOrg:
    org: orgs.Org
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> str:
    """URL of a PostgreSQL server on which the tests may create databases."""
    url = os.environ.get("MOJULE_TEST_DATABASE_URL")
    if url:
        return url
    return start_embedded_postgres(tmp_path_factory.mktemp("pg") / "data", cleanup="delete")


def install_test_license(conn: psycopg.Connection) -> None:
    """License the shared test installation for more seats than the suite ever uses.

    Without one, the evaluation allowance (5 seats) would pause ingest once the tests'
    sessions add up to a sixth seat. The key is made for this run and trusted through
    MOJULE_LICENSE_PUBLIC_KEYS, which test apps, the CLI and live servers all read.
    """
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    extra = os.environ.get("MOJULE_LICENSE_PUBLIC_KEYS", "")
    os.environ["MOJULE_LICENSE_PUBLIC_KEYS"] = ",".join(
        filter(None, [extra, base64.b64encode(public).decode()]))
    document = license.sign({"license_id": "test-suite", "licensee": "Mojule tests",
                             "seats": 1_000_000, "issued_at": "2026-01-01T00:00:00Z",
                             "not_after": "2999-01-01T00:00:00Z"}, key)
    license.install(conn, document, license.trusted_keys([public]), "tests")


@pytest.fixture(scope="session")
def database_url(server_url) -> str:
    """URL of the session's test database, schema applied (a superuser connects with it)."""
    name = f"mojule_test_{uuid.uuid4().hex[:8]}"
    url = ensure_database(server_url, name)
    with connect(url) as conn:
        schema.apply_migrations(conn)
        install_test_license(conn)
    yield url
    with connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def app_database_url(database_url) -> str:
    """URL the server uses: the app role, neither superuser nor owner, held to RLS."""
    with connect(database_url) as conn:
        password = schema.ensure_app_role(conn, schema.APP_ROLE, reset_password=True)
    return psycopg.conninfo.make_conninfo(database_url, user=schema.APP_ROLE, password=password)


@pytest.fixture
def fresh_database_url(server_url) -> str:
    """URL of a new, empty database, dropped after the test."""
    name = f"mojule_fresh_{uuid.uuid4().hex[:8]}"
    url = ensure_database(server_url, name)
    yield url
    with connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def master_key() -> str:
    return generate_master_key()


@pytest.fixture
def config(app_database_url, master_key) -> dict:
    """Settings overrides for a test app; tests may change them before using ``app``."""
    return {"DATABASE_URL": app_database_url, "MASTER_KEY": master_key, "POOL_SIZE": 2}


@pytest.fixture
def cli_env(app_database_url, master_key) -> dict:
    """The environment of the ``mojule`` CLI as the app role, for CliRunner."""
    return {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}


@pytest.fixture
def app(config):
    application = create_app(config)
    application.config["TESTING"] = True
    yield application
    close_pool(application)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(database_url) -> psycopg.Connection:
    """An autocommit superuser connection to the test database (sees every org)."""
    with connect(database_url) as conn:
        yield conn


def make_org(conn: psycopg.Connection, **kwargs) -> TestOrg:
    org = orgs.create_org(conn, f"t-{uuid.uuid4().hex[:12]}", **kwargs)
    return TestOrg(org, orgs.create_ingest_token(conn, org, "test"))


@pytest.fixture
def org(db) -> TestOrg:
    """A new org with one ingest token."""
    return make_org(db)


@pytest.fixture
def other_org(db) -> TestOrg:
    """A second org, to prove nothing crosses between tenants."""
    return make_org(db)


def fixture_bytes(session: str, signal: str) -> bytes:
    """The request body Claude Code 2.1.328 sent for one signal of a recorded session."""
    return (FIXTURES / "claude-code-2.1.328" / session / f"{signal}.json").read_bytes()


@dataclass
class TestUser:
    user: people.User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(conn: psycopg.Connection, test_org: TestOrg, email: str, role: str) -> TestUser:
    """Create a user of ``test_org`` with a personal access token."""
    created = people.create_user(conn, test_org.org.org_id, email, role)
    # Full access, as every token made before migration 0035 has: tests that read content
    # through the API need it; tests of tokens without it make their own.
    return TestUser(created, people.create_user_token(conn, created, "test",
                                                      reads_content=True))


def ingest_session(client, test_org: TestOrg, session: str, signals=("logs", "metrics", "traces")):
    """Post a recorded Claude Code session's requests; return the session id."""
    for signal in signals:
        response = client.post(f"/v1/{signal}", data=fixture_bytes(session, signal),
                               headers=test_org.headers)
        assert response.status_code == 202, response.get_json()
    return session_id_of(session)


def session_id_of(session: str) -> str:
    """The session id Claude Code itself reported for a recorded session."""
    result = FIXTURES / "claude-code-2.1.328" / session / "claude-result.json"
    return json.loads(result.read_text())["session_id"]
