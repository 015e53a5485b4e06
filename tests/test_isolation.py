"""Tenant isolation in depth: row-level security that holds even when a query forgets its filter."""
from __future__ import annotations

import psycopg
import pytest

from mojule import create_app
from mojule.db import close_pool
from mojule.schema import APP_ROLE
from tests.conftest import fixture_bytes, ingest_session, make_user

TENANT_TABLES_QUERY = """
    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped)
       AND c.relname <> 'orgs'
"""


def test_every_tenant_table_has_forced_row_level_security(db):
    tables = db.execute(TENANT_TABLES_QUERY).fetchall()

    assert len(tables) >= 11
    assert [name for name, enabled, forced in tables if not (enabled and forced)] == []


def test_org_id_leads_every_primary_and_unique_key_of_tenant_tables(db):
    rows = db.execute("""
        SELECT c.relname, i.indexrelid::regclass::text,
               (SELECT attname FROM pg_attribute
                 WHERE attrelid = c.oid AND attnum = i.indkey[0]) AS first_column
          FROM pg_index i
          JOIN pg_class c ON c.oid = i.indrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND (i.indisunique OR i.indisprimary)
           AND NOT c.relispartition AND c.relname NOT IN ('orgs', 'schema_migrations', 'licenses',
                                                             'ingest_pause', 'ingest_state', 'license_seats',
                                                             'license_seat_aliases')
    """).fetchall()

    assert rows
    assert [(table, index) for table, index, first in rows if first != "org_id"] == []


def test_app_role_is_neither_superuser_nor_owner_and_cannot_bypass_rls(db, app_database_url):
    role = db.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s",
                      (APP_ROLE,)).fetchone()
    # Its own temporary staging tables aside, it owns nothing.
    owned = db.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n"
                       " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relowner ="
                       " (SELECT oid FROM pg_roles WHERE rolname = %s)", (APP_ROLE,)).fetchone()[0]

    assert role == (False, False)
    assert owned == 0


def test_app_role_cannot_read_partitions_directly(db, app_database_url):
    partition = db.execute("SELECT c.relname FROM pg_class c WHERE c.relispartition "
                           "AND c.relkind = 'r' AND c.relname LIKE 'content_values_%' LIMIT 1").fetchone()[0]
    with psycopg.connect(app_database_url, autocommit=True) as app_conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute(f'SELECT * FROM "{partition}"')


def test_a_query_that_forgets_its_org_filter_sees_nothing(client, org, other_org, app_database_url):
    ingest_session(client, org, "bash-tool")
    ingest_session(client, other_org, "failing-bash")
    with psycopg.connect(app_database_url, autocommit=True) as app_conn:
        unscoped = {table: app_conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for table in ("log_events", "metric_points", "spans", "content_values",
                                  "sessions", "usage_rollup", "session_usage",
                                  "ingest_tokens", "data_keys")}
        with app_conn.transaction():
            app_conn.execute("SELECT set_config('mojule.org_id', %s, true)", (str(org.org.org_id),))
            scoped = app_conn.execute("SELECT DISTINCT org_id FROM log_events").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
            app_conn.execute("SELECT set_config('mojule.org_id', %s, true)",
                             (str(org.org.org_id),))
            app_conn.execute("UPDATE sessions SET org_id = %s", (other_org.org.org_id,))

    assert unscoped == dict.fromkeys(unscoped, 0)
    assert scoped == [(org.org.org_id,)]


def test_one_pooled_connection_alternating_orgs_never_leaks(config, db, org, other_org):
    config["POOL_SIZE"] = 1
    app = create_app(config)
    client = app.test_client()
    admins = {org.org.org_id: make_user(db, org, "a@example.com", "admin"),
              other_org.org.org_id: make_user(db, other_org, "b@example.com", "admin")}
    sessions = {org.org.org_id: ingest_session(client, org, "bash-tool"),
                other_org.org.org_id: ingest_session(client, other_org, "write-tool-resource-attrs")}
    pool = app.extensions["mojule.pool"]

    def leftover_org() -> str:
        with pool.connection() as conn:
            return conn.execute("SELECT current_setting('mojule.org_id', true)").fetchone()[0]

    try:
        for round_number in range(12):
            for org_id, admin in admins.items():
                own, foreign = sessions[org_id], sessions[next(o for o in admins if o != org_id)]
                if round_number % 3 == 0:
                    # A request that fails inside its transaction (audit insert refused).
                    db.execute(f"REVOKE INSERT ON audit_log FROM {APP_ROLE}")
                    try:
                        failed = client.get(f"/api/v1/sessions/{own}/content", headers=admin.headers)
                    finally:
                        db.execute(f"GRANT INSERT ON audit_log TO {APP_ROLE}")
                    assert failed.status_code == 503
                elif round_number % 3 == 1:
                    bad = client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs")[:-20],
                                      headers=(org if org_id == org.org.org_id else other_org).headers)
                    assert bad.status_code == 400
                mine = client.get(f"/api/v1/sessions/{own}/content", headers=admin.headers)
                theirs = client.get(f"/api/v1/sessions/{foreign}/content", headers=admin.headers)
                assert mine.status_code == 200 and mine.get_json()["session_id"] == own
                assert theirs.status_code == 404
                assert leftover_org() == ""
    finally:
        close_pool(app)


def test_partitions_are_utc_months_whatever_the_database_time_zone(fresh_database_url, master_key,
                                                                  app_database_url):
    from mojule import orgs, schema
    from mojule.db import connect
    from tests.conftest import TestOrg

    with connect(fresh_database_url) as conn:
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f"ALTER DATABASE \"{database}\" SET timezone = 'America/New_York'")
    with connect(fresh_database_url) as conn:
        schema.apply_migrations(conn)
        schema.ensure_app_role(conn)        # the role exists: this grants, keeping its password
        org = orgs.create_org(conn, "tz-test")
        test_org = TestOrg(org, orgs.create_ingest_token(conn, org, "t"))
    url = psycopg.conninfo.make_conninfo(app_database_url, dbname=database)
    app = create_app({"DATABASE_URL": url, "MASTER_KEY": master_key})
    # 2026-03-01T02:00Z is still February in New York: a month not created ahead.
    body = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1772330400000000000"}]}]}]}'
    try:
        response = app.test_client().post("/v1/logs", data=body, headers=test_org.headers)
    finally:
        close_pool(app)

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["counts"]["logEvents"] == 1
