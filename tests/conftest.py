"""Test fixtures: a real PostgreSQL, the schema built once, a fresh org per test.

PostgreSQL is the server in MOJULE_TEST_DATABASE_URL (its user must be able to create
databases) or, when that is unset, a throwaway embedded one. Tests are isolated by
tenancy: each gets its own org and token, exactly as two customers would be.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from mojule import create_app, orgs, schema
from mojule.crypto import generate_master_key
from mojule.db import close_pool, connect
from mojule.dev import ensure_database, start_embedded_postgres

FIXTURES = Path(__file__).parent / "fixtures"


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


@pytest.fixture(scope="session")
def database_url(server_url) -> str:
    """URL of the session's test database, schema applied."""
    name = f"mojule_test_{uuid.uuid4().hex[:8]}"
    url = ensure_database(server_url, name)
    with connect(url) as conn:
        schema.apply_migrations(conn)
    yield url
    with connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
def config(database_url, master_key) -> dict:
    """Settings overrides for a test app; tests may change them before using ``app``."""
    return {"DATABASE_URL": database_url, "MASTER_KEY": master_key, "POOL_SIZE": 2}


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
