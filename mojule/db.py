"""PostgreSQL access: the per-worker pool, named SQL files, COPY, and org-scoped transactions.

Only this module knows where ``sql/`` is. Functions that touch the database take the
connection first and import nothing from Flask, so the CLI and tests call them directly.
"""
from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from flask import Flask, current_app, g
from psycopg_pool import ConnectionPool

# The statements: inside the package in an installed wheel (setup.py puts the repository's
# sql/ there), beside it in a checkout.
SQL_DIR = next(path for path in (Path(__file__).resolve().parent / "sql",
                                 Path(__file__).resolve().parent.parent / "sql")
               if path.is_dir())
log = logging.getLogger("mojule.db")
# Held while a worker opens its pool (_pool).
_POOL_LOCK = threading.Lock()


def _read_statements(directory: Path) -> dict[str, str]:
    """Return every ``<name>.sql`` in ``directory`` by name, each prefixed so server logs
    name its file."""
    return {path.stem: f"-- {path.name}\n{path.read_text(encoding='utf-8')}"
            for path in sorted(directory.glob("*.sql"))}


# Read once, as a worker starts. An upgrade installs the next release's files under the
# running workers (docs/deploy/upgrade.rst, step 3), whose code must go on running the
# statements it was written for, against the schema it knows, until they are replaced.
STATEMENTS = _read_statements(SQL_DIR)


def query(name: str) -> str:
    """Return the SQL statement of ``sql/<name>.sql``. Raises LookupError for an unknown one."""
    try:
        return STATEMENTS[name]
    except KeyError:
        raise LookupError(f"no statement sql/{name}.sql in {SQL_DIR}") from None


def connect(url: str, **kwargs: Any) -> psycopg.Connection:
    """Open one autocommit connection (CLI and tests); writes use ``conn.transaction()``."""
    return psycopg.connect(url, autocommit=True, **kwargs)


@contextmanager
def org_transaction(conn: psycopg.Connection, org_id: int,
                    snapshot: bool = False) -> Iterator[psycopg.Connection]:
    """Run a transaction with row-level security scoped to ``org_id``.

    ``set_config(..., true)`` is transaction-local: the org cannot outlive the transaction
    and leak into the next request that borrows this pooled connection. ``snapshot``
    makes it read-only and reading one snapshot throughout (sql/transaction_read_snapshot.sql),
    unless it runs inside a transaction already begun, whose own reads it then shares.
    """
    begins = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        if snapshot and begins:
            conn.execute(query("transaction_read_snapshot"))
        conn.execute(query("transaction_org"), {"org_id": str(org_id)})
        yield conn


def copy_rows(conn: psycopg.Connection, statement: str, rows: Iterable[tuple]) -> None:
    """Stream ``rows`` (tuples in the statement's column order) through COPY."""
    with conn.cursor().copy(query(statement)) as copy:
        for row in rows:
            copy.write_row(row)


def init_app(app: Flask) -> None:
    """Register the per-request connection hand-back; the pool opens lazily after fork."""
    app.extensions["mojule.pool"] = None
    app.teardown_appcontext(release_connection)


def _pool(app: Flask) -> ConnectionPool:
    # Opened on first use so each gunicorn worker gets its own pool after the fork; under
    # a lock, so that threads (gunicorn --threads, tests) do not each open one and hand a
    # connection back to another's.
    pool = app.extensions["mojule.pool"]
    if pool is not None:
        return pool
    with _POOL_LOCK:
        return app.extensions["mojule.pool"] or _open_pool(app)


def _open_pool(app: Flask) -> ConnectionPool:
    config = app.config["MOJULE"]
    pool = ConnectionPool(
        config["DATABASE_URL"],
        min_size=1,
        max_size=config["POOL_SIZE"],
        kwargs={
            "autocommit": True,
            "connect_timeout": 2,
            # jit=off: PostgreSQL built with LLVM (Debian's packages are) compiles any
            # statement estimated above jit_above_cost, afresh on every call. A usage
            # report of a large org is: on PostgreSQL 15 that took 1.6 to 1.9 s per call,
            # for a statement that runs in milliseconds to a few hundred.
            "options": f"-c statement_timeout={config['STATEMENT_TIMEOUT_MS']}"
                       " -c lock_timeout=2000 -c idle_in_transaction_session_timeout=30000"
                       " -c jit=off" + _url_options(config["DATABASE_URL"]),
        },
        # No check query on every checkout (a round trip per request): a connection
        # broken by a server restart fails its request with a retryable 503, and the
        # pool discards it when it comes back.
        # Claude Code's exporter has one 10 s budget for all its retries: when the
        # database is down, answer 503 within a second so it can retry several times.
        timeout=1.0,
        configure=durable_commits,
        open=False,
        name="mojule",
    )
    pool.open(wait=False)
    app.extensions["mojule.pool"] = pool
    return pool


def _url_options(url: str) -> str:
    """The ``options`` of the operator's database URL, to follow ours: given as a keyword,
    ours would replace theirs (a search_path, say), and last given wins in PostgreSQL."""
    options = psycopg.conninfo.conninfo_to_dict(url).get("options")
    return f" {options}" if options else ""


def durable_commits(conn: psycopg.Connection) -> None:
    """Make the server's COMMIT durable before it returns, on each new pool connection.

    Ingest answers 202 only after COMMIT, and an exporter drops what was answered 202.
    With synchronous_commit off (set for the server, database or role), PostgreSQL
    returns from COMMIT before the WAL is flushed, and a crash loses up to three
    wal_writer_delay of batches that were acknowledged. So off is raised to on, and said
    loudly; local and the remote_* levels of a synchronous standby are kept.
    """
    if conn.execute("SHOW synchronous_commit").fetchone()[0] == "off":
        conn.execute("SET synchronous_commit = on")
        log.warning("synchronous_commit is off for this database or role; Mojule's "
                    "connections set it on, since ingest acknowledges only durable commits")


def get_connection() -> psycopg.Connection:
    """Return this request's connection, borrowing one from the worker's pool on first use.

    Raises psycopg_pool.PoolTimeout when none frees up in time; the error boundary
    answers 503 for it, as for any psycopg.OperationalError.
    """
    if "db" not in g:
        g.db = _pool(current_app).getconn()
    return g.db


def release_connection(exc: BaseException | None = None) -> None:
    """Give the request's connection back; the pool rolls back anything left open."""
    conn = g.pop("db", None)
    if conn is not None:
        current_app.extensions["mojule.pool"].putconn(conn)


def hold_connection(body: Iterable[Any]) -> Iterable[Any]:
    """Return a streamed response's ``body``, keeping the request's connection borrowed
    until the body has run out or is closed (a WSGI server closes it once sent, or when
    the client goes away).

    Flask tears the request down, and release_connection gives its connection back, as
    soon as the view returns: before the body runs. The pool closes a connection that
    comes back past its max_lifetime (or after drain()), and would lend it to the next
    request meanwhile; the body's queries need it until their last row.
    """
    conn = g.pop("db", None)
    return body if conn is None else _HeldConnection(body, conn,
                                                     current_app.extensions["mojule.pool"])


class _HeldConnection:
    """An iterable over ``body`` that gives ``conn`` back to ``pool`` once the body has
    run out or failed, is closed before, or, never read nor closed (an answer that a hook
    or the server threw away), is garbage-collected: never twice."""

    def __init__(self, body: Iterable[Any], conn: psycopg.Connection, pool: ConnectionPool):
        self._body = body
        self._give_back = weakref.finalize(self, pool.putconn, conn)
        self._give_back.atexit = False      # the pool itself is closed at exit

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._body
        finally:
            self.close()

    def close(self) -> None:
        try:
            close_iterable(self._body)     # ends the body's own transaction first
        finally:
            self._give_back()   # once only: a finalizer runs at most once


def close_iterable(items: Iterable[Any]) -> None:
    """Close ``items`` if it can be closed (a generator, a server-side cursor's rows): what
    it holds open, such as a transaction, ends now rather than when it is collected."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


def close_pool(app: Flask) -> None:
    """Close the worker's pool (worker exit, tests)."""
    pool = app.extensions.get("mojule.pool")
    if pool is not None:
        pool.close()
        app.extensions["mojule.pool"] = None


def connection_url(conninfo: str, **changes: str) -> str:
    """Return ``conninfo`` (a URL or key=value words) with some parameters changed, as a
    postgresql:// URL: what operators paste into MOJULE_DATABASE_URL and read back. Every
    part is percent-encoded, a socket directory as host too, as libpq reads them."""
    params = {**psycopg.conninfo.conninfo_to_dict(conninfo), **changes}

    def part(name: str) -> str:
        return quote(str(params.pop(name, "") or ""), safe="")

    user, password, dbname = part("user"), part("password"), part("dbname")
    hosts = str(params.pop("host", "") or "").split(",")
    ports = str(params.pop("port", "") or "").split(",")
    ports = ports * len(hosts) if len(ports) == 1 else ports     # one port serves all
    where = ",".join(quote(host, safe="") + (f":{port}" if port else "")
                     for host, port in zip(hosts, ports, strict=False))
    login = f"{user}{':' + password if password else ''}@" if user else ""
    query_args = f"?{urlencode(params)}" if params else ""
    return f"postgresql://{login}{where}/{dbname}{query_args}"

