"""The load client: a fixed number of connections sending pre-built requests for a bounded time.

The machine is shared by client, gunicorn and PostgreSQL, so the client does as little as
it can: every request (head and body) is built before the clock starts, the bytes go out
through a plain socket, and only the status line and Content-Length of the answer are
parsed. gunicorn's sync workers close the connection after every response (they are
meant to sit behind nginx), so each request opens its own connection, for both servers.

Each connection is a forked process of its own: threads in one process would wait for
each other's GIL between a response and the next request, and leave the servers idle.
A connection stops at the deadline, or when it has sent every request it was given
(``cycle=False``: each request sent once), and then stops the others.
"""
from __future__ import annotations

import multiprocessing
import resource
import signal
import socket
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import cycle as repeat

# A request not answered within this long counts as an error (gunicorn kills at 30 s).
REQUEST_TIMEOUT = 35.0
# Time given to fork the client processes before the clock starts.
START_DELAY = 0.5


@dataclass
class Result:
    """What one run sent and got back."""

    accepted: int = 0                                     # requests answered 202
    errors: Counter = field(default_factory=Counter)      # status or exception name -> count
    latencies: list[float] = field(default_factory=list)  # seconds, 202 answers only
    seconds: float = 0.0                                  # from the start to the last answer
    exhausted: bool = False                               # stopped early: requests used up
    client_cpu: float = 0.0                               # CPU seconds of the client processes


def post(address: tuple[str, int], request: bytes) -> int:
    """Send one raw HTTP request on a new connection and return the response status."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Not create_connection(): the address is numeric, and a name lookup per request
        # would be client work that the servers' CPUs pay for.
        sock.settimeout(REQUEST_TIMEOUT)
        sock.connect(address)
        sock.sendall(request)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before the response head")
            buffer += chunk
        head, _, body = buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before the end of the response")
            body += chunk
        return int(head[9:12])


def request_bytes(path: str, token: str, body: bytes) -> bytes:
    """Return a complete HTTP/1.1 POST of an OTLP/JSON body, as an exporter sends it."""
    head = (f"POST {path} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\n"
            f"User-Agent: mojule-bench\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def _connection(address, requests: Sequence[bytes], cycle: bool, started: float,
                deadline: float, stop, results) -> None:
    # Ctrl-C is the parent's to handle: it stops the connections and the servers in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    result = Result()
    source = repeat(requests) if cycle else iter(requests)
    time.sleep(max(0.0, started - time.monotonic()))
    while not stop.is_set() and time.monotonic() < deadline:
        request = next(source, None)
        if request is None:
            result.exhausted = True
            stop.set()
            break
        sent = time.monotonic()
        try:
            status = post(address, request)
        except (OSError, ValueError) as exc:  # ValueError: not an HTTP response
            result.errors[type(exc).__name__] += 1
            continue
        if status == 202:
            result.accepted += 1
            result.latencies.append(time.monotonic() - sent)
        else:
            result.errors[str(status)] += 1
    result.seconds = time.monotonic() - started
    # getrusage, not os.times: a connection may use less CPU than one clock tick.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = usage.ru_utime + usage.ru_stime
    results.put(result)


def run(address: tuple[str, int], requests: Sequence[bytes], *, seconds: float,
        connections: int, cycle: bool) -> Result:
    """Send ``requests`` to ``address`` over ``connections`` connections for ``seconds``.

    With ``cycle`` the requests are sent round and round; without it each is sent at most
    once and the run ends early (``exhausted``) when one connection runs out.
    """
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.Queue()
    started = time.monotonic() + START_DELAY
    deadline = started + seconds
    children = [context.Process(target=_connection, daemon=True,
                                args=(address, requests[index::connections], cycle, started,
                                      deadline, stop, results))
                for index in range(connections)]
    try:
        for child in children:
            child.start()
        total = Result()
        for _ in children:
            part = results.get(timeout=START_DELAY + seconds + REQUEST_TIMEOUT + 30)
            total.accepted += part.accepted
            total.errors.update(part.errors)
            total.latencies.extend(part.latencies)
            total.seconds = max(total.seconds, part.seconds)
            total.exhausted = total.exhausted or part.exhausted
            total.client_cpu += part.client_cpu
        for child in children:
            child.join()
        return total
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join()
