"""A live Mojule: gunicorn started as a subprocess on a free loopback port, for HTTP tests.

A test module loads the fixtures with ``pytest_plugins = ["tests.live"]`` and takes
``live`` in its tests: the session's server, with what it logged during a test shown
beside that test's failure. ``running_server()`` starts a server with other settings.
The subprocess is always stopped: terminated, then killed if it lingers.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class ServerFailed(Exception):
    """The live server did not start, or did not stop cleanly."""


@dataclass
class LiveServer:
    host: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        """Return a new (not yet connected) HTTP connection to the server."""
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def log_size(self) -> int:
        """Return how many bytes the server has logged so far (stdout and stderr)."""
        return self.log_path.stat().st_size

    def log_text(self, start: int = 0) -> str:
        """Return what the server logged from byte ``start`` on."""
        with self.log_path.open("rb") as log:
            log.seek(start)
            return log.read().decode("utf-8", "replace")


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(environ: dict[str, str], log_path: Path, workers: int = 2,
                   release: Path = ROOT) -> Iterator[LiveServer]:
    """Start gunicorn with ``environ`` added to ours, wait for /healthz, yield the server.

    It runs in ``release``, a source tree (this checkout by default), and imports Mojule
    from there, as an installed release's gunicorn would import it from its venv.

    Everything the server prints goes to ``log_path``. Raises ServerFailed, with the
    server's output, if it does not answer within START_TIMEOUT seconds.
    """
    port = free_port()
    command = [str(GUNICORN), "-c", "gunicorn.conf.py", "-b", f"{HOST}:{port}", "-w", str(workers)]
    with log_path.open("wb") as log:
        # A session of its own, so that stopping it reaches the workers too.
        process = subprocess.Popen(command, cwd=release, env={**os.environ, **environ},
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = LiveServer(HOST, port, process, log_path)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        _stop(server)


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"gunicorn exited with status {server.process.returncode}:\n"
                               f"{server.log_text()}")
        connection = server.connection(timeout=1.0)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise ServerFailed(f"gunicorn did not answer /healthz within {START_TIMEOUT:.0f} s:\n"
                       f"{server.log_text()}")


def _stop(server: LiveServer) -> None:
    """Stop gracefully (SIGTERM lets in-flight requests commit); kill the group if it lingers."""
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def live_server(database_url, master_key, tmp_path_factory) -> Iterator[LiveServer]:
    """A gunicorn with two workers serving the session's test database."""
    environ = {"MOJULE_DATABASE_URL": database_url, "MOJULE_MASTER_KEY": master_key}
    log_path = tmp_path_factory.mktemp("live") / "gunicorn.log"
    with running_server(environ, log_path) as server:
        yield server
    if server.process.returncode != 0:
        # A crash, or a graceful stop that had to be killed: fail, with the server's output.
        raise ServerFailed(f"gunicorn exited with status {server.process.returncode}:\n"
                           f"{server.log_text()}")


@pytest.fixture
def live(live_server) -> Iterator[LiveServer]:
    """The live server; what it logs during the test is shown if the test fails."""
    start = live_server.log_size()
    yield live_server
    # pytest shows teardown output only with a failure, under "Captured stderr teardown".
    sys.stderr.write(f"--- gunicorn output during this test ---\n{live_server.log_text(start)}")
