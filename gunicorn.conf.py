"""gunicorn settings for Mojule: `gunicorn -c gunicorn.conf.py` (``-b`` and ``-w`` override).

Sync workers behind nginx, which buffers slow clients (see docs/deploy/).
"""
import multiprocessing
import os

wsgi_app = "mojule.wsgi:app"

# Where to listen. Behind nginx this is loopback or a Unix socket, never a public address.
bind = os.environ.get("MOJULE_BIND", "127.0.0.1:8000")

# Sync workers: each handles one request at a time, so the usual 2 x cores + 1.
workers = int(os.environ.get("MOJULE_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"

# Each worker opens its own database pool after the fork; preloading would share sockets.
preload_app = False

# A worker silent this long is killed and replaced. Above the 5 s statement timeout.
timeout = 30
# On SIGTERM, in-flight requests get this long to finish and commit before workers exit.
graceful_timeout = 30
keepalive = 5

# Request line and header limits (gunicorn's defaults, stated so they are reviewed).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# Proxies whose X-Forwarded-* headers gunicorn believes (nginx on the same host).
forwarded_allow_ips = os.environ.get("MOJULE_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
