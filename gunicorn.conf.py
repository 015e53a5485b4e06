"""gunicorn settings for Mojule: `gunicorn -c gunicorn.conf.py` (``-b`` and ``-w`` override).

Sync workers behind nginx, which buffers whole requests and responses, so a slow client
never holds a worker (docs/deploy/nginx/mojule.conf). Every line gunicorn and the app
write is a JSON object with a request id (``-`` outside a request).
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

from mojule.request_log import JsonFormatter

wsgi_app = "mojule.wsgi:app"

# Where to listen. Behind nginx this is loopback, never a public address. Not a Unix
# socket: requests through one come from no address, so MOJULE_TRUSTED_PROXIES cannot
# name nginx, /metrics answers 404 and the audit trail records no client address.
bind = os.environ.get("MOJULE_BIND", "127.0.0.1:8000")

# Sync workers each serve one request at a time and spend most of it waiting on
# PostgreSQL, so the usual 2 x cores + 1. The cores are those this process may run on
# (a CPU affinity mask's, e.g. a cpuset), not the host's; macOS has no affinity mask.
# Each worker holds its own database pool: keep workers x MOJULE_POOL_SIZE under
# PostgreSQL's max_connections.
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
try:
    workers = int(os.environ.get("MOJULE_WORKERS", cores * 2 + 1))
    if workers < 1:
        raise ValueError
except ValueError:
    raise SystemExit(f"MOJULE_WORKERS is malformed ({os.environ['MOJULE_WORKERS']!r}): the "
                     "number of gunicorn worker processes, a positive integer") from None
worker_class = "sync"

# Each worker opens its own database pool after the fork; preloading would share sockets.
preload_app = False

# A worker silent this long is killed and replaced, its request lost (the client sees a
# reset and retries). Well above the 5 s statement timeout (MOJULE_STATEMENT_TIMEOUT_MS),
# so a slow query ends in a clean 503 first; an ingest request runs a handful of queries.
timeout = 30
# On SIGTERM (systemd stop, deploys) the master stops accepting connections and each worker
# finishes the request in hand, committing before it answers, within this many seconds.
# Nothing answered 202 is lost: the answer is only written after COMMIT. Requests that
# arrive after the listener closed are refused, which exporters retry.
graceful_timeout = 30

# Request line and header limits (gunicorn's defaults, stated so they are reviewed): a
# longer line or header gets 400 before any app code runs. nginx's
# large_client_header_buffers (4 x 8k) lets through no more than these.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# Workers are not recycled (max_requests): each new worker process would leave its metric
# files behind in PROMETHEUS_MULTIPROC_DIR, and scrapes slow down with every file. Set it
# only if worker memory is seen to grow.

# gunicorn 25.1+ opens a control socket (for gunicornc) at one path per user, which two
# servers on a host would share. systemd and signals manage Mojule; older releases ignore
# this setting.
control_socket_disable = True

# Proxies whose X-Forwarded-Proto gunicorn believes (nginx on the same host), so the app
# knows a request came over HTTPS. Client addresses are the app's business: it believes
# X-Forwarded-For only from MOJULE_TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("MOJULE_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


class JsonLogger(Logger):
    """gunicorn's logger, writing JSON lines: its own messages and one object per request.

    The access line carries the request id the app answered with, never a query string
    (it may hold search terms) nor any header but the User-Agent (tokens travel in
    Authorization).
    """

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        headers = {name.lower(): value for name, value in resp.headers}
        status = int(str(resp.status).split(None, 1)[0])
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        self.access_log.info("%s %s %s", method, path, status, extra={
            "request_id": headers.get("x-request-id"),
            "fields": {
                "method": method, "path": path, "status": status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
            },
        })


logger_class = JsonLogger
accesslog = "-"
errorlog = "-"


def on_starting(server):
    """Check Mojule's settings, then give the workers' metrics an empty directory, before
    the master listens and forks its first worker.

    A bad setting stops gunicorn here with one line naming the variable: otherwise it would
    say "Listening at" and every worker would die with a traceback.
    """
    if server.cfg.wsgi_app == wsgi_app:       # not another app served with these settings
        _check_settings()
    _prepare_metrics_directory(server)


def _check_settings():
    from mojule import config

    try:
        config.load()
    except config.ConfigError as exc:
        raise SystemExit(f"mojule: {exc}") from None


def _prepare_metrics_directory(server):
    """Give the workers' metrics an empty directory before the first worker starts.

    PROMETHEUS_MULTIPROC_DIR, when set (systemd: RuntimeDirectory), is emptied of a
    previous run's files; otherwise a private temporary directory is made and removed at
    exit. Workers inherit the variable, which puts prometheus_client in multiprocess mode.
    One directory serves one gunicorn: never point two servers at the same one.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()
    else:
        directory = tempfile.mkdtemp(prefix="mojule-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        server.mojule_metrics_tmpdir = directory


def post_fork(server, worker):
    """Have each new worker import Mojule afresh, before it loads the app.

    The master imported the package it started with, for the log formatter above. A worker
    forked by a reload (HUP) after an upgrade inherits that package object, and would run
    the old release's create_app over the new release's modules; forgetting the master's
    copy makes the worker import the release installed now, whole.
    """
    for name in [name for name in sys.modules if name == "mojule" or name.startswith("mojule.")]:
        del sys.modules[name]


def child_exit(server, worker):
    """Drop a dead worker's live gauges; its counters stay, so totals never go backwards."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the temporary metrics directory made at start, if one was."""
    directory = getattr(server, "mojule_metrics_tmpdir", None)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
