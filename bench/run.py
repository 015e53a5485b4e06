"""One benchmark run: set up the database and both servers, replay each scenario, verify.

For each batch size both servers are warmed up, then measured in alternating rounds
(bare, Mojule, bare, Mojule ...), so that whatever else the machine does at the time
weighs on both alike. The bare endpoint cycles one small set of requests: it stores
nothing, so repeats cost it nothing. Mojule gets requests generated for it alone, each
sent once (its warm-up rate says how many), so nothing is deduplicated and every record
it accepts must end up stored.
"""
from __future__ import annotations

import math
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench import load, servers
from bench.traffic import Traffic
from mojule import orgs, schema
from mojule.crypto import generate_master_key
from mojule.db import connect, org_transaction

PATH = "/v1/logs"
# The role Mojule connects as; its own, so a shared database's real app role is left alone.
APP_ROLE = "mojule_bench"
# Requests generated for Mojule's timed run: its warm-up rate times the run time times this.
HEADROOM = 2.0
# Never generate more request bytes than this for one run.
MAX_REQUEST_BYTES = 3 * 1024**3


@dataclass(frozen=True)
class Settings:
    seconds: float            # timed run per scenario and server, all rounds together
    rounds: int               # the timed run is split into this many alternating rounds
    warmup: float             # untimed warm-up per scenario and server
    workers: int              # gunicorn sync workers, both servers
    connections: int          # concurrent client connections (processes), both servers
    sessions: int             # distinct Claude Code sessions in the traffic
    seats: int                # distinct seats (developers) those sessions belong to
    small: int                # records per request, small batches
    large: int                # records per request, large batches
    large_sessions: int       # sessions per large request (resourceLogs entries)
    seed: int
    database_url: str | None  # an existing database instead of a throwaway one


@dataclass(frozen=True)
class Scenario:
    name: str
    records: int              # per request
    sessions: int             # per request
    goal: float               # Mojule requests/s over bare requests/s


@dataclass
class Sample:
    """One round against one server: what came back, and the CPU the machine spent."""

    result: load.Result
    # CPU seconds of the server's gunicorn ("app"), PostgreSQL (NaN when not ours to
    # watch), the client, and every other process on the machine ("others").
    cpu: dict[str, float]
    wall: float               # seconds the round took, start-up included


@dataclass
class Measurement:
    """One server's timed rounds of one scenario, added up."""

    server: str
    records: int                                          # per request
    accepted: int = 0                                     # requests answered 202
    errors: Counter = field(default_factory=Counter)      # status or exception -> count,
                                                          # the warm-up's included
    latencies: list[float] = field(default_factory=list)  # seconds, 202 answers only
    seconds: float = 0.0                                  # from first send to last answer
    wall: float = 0.0                                     # the rounds' whole length
    exhausted: bool = False                               # a round ran out of requests
    cpu: Counter = field(default_factory=Counter)         # as in Sample, added up

    def add(self, sample: Sample) -> None:
        result = sample.result
        self.accepted += result.accepted
        self.errors.update(result.errors)
        self.latencies.extend(result.latencies)
        self.seconds += result.seconds
        self.wall += sample.wall
        self.exhausted = self.exhausted or result.exhausted
        self.cpu.update(sample.cpu)


@dataclass
class Outcome:
    scenario: Scenario
    bare: Measurement
    mojule: Measurement


@dataclass
class Report:
    settings: Settings
    outcomes: list[Outcome] = field(default_factory=list)
    accepted_records: int = 0  # records in every request Mojule answered 202 (warm-ups too)
    stored_rows: int = 0       # log_events rows of the benchmark org afterwards
    stored_sessions: int = 0


def scenarios(settings: Settings) -> list[Scenario]:
    return [Scenario("small", settings.small, 1, 0.5),
            Scenario("large", settings.large, settings.large_sessions, 0.4)]


def progress(message: str) -> None:
    """Say what is happening on stderr, when someone is watching."""
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def benchmark(settings: Settings) -> Report:
    """Run every scenario against both servers and return the figures."""
    report = Report(settings)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mojule-bench-")))
        postmaster = None
        database_url = settings.database_url
        if not database_url:
            progress("starting a throwaway PostgreSQL")
            database_url, postmaster = stack.enter_context(servers.embedded_postgres(tmp / "pg"))
        server_url, org_id, token = _prepare(database_url)
        env = {**os.environ, "MOJULE_DATABASE_URL": server_url,
               "MOJULE_MASTER_KEY": generate_master_key()}
        progress(f"starting gunicorn twice with {settings.workers} sync workers")
        mojule = stack.enter_context(servers.gunicorn(
            "mojule", None, settings.workers, env, tmp / "mojule.log"))
        bare = stack.enter_context(servers.gunicorn(
            "bare", "bench.bare:app", settings.workers, env, tmp / "bare.log"))
        traffic = Traffic(settings.sessions, settings.seats, settings.seed)
        for scenario in scenarios(settings):
            outcome, accepted = _scenario(settings, scenario, traffic, token, bare, mojule,
                                          postmaster)
            report.outcomes.append(outcome)
            report.accepted_records += accepted
        report.stored_rows, report.stored_sessions = _stored(database_url, org_id)
    return report


def _prepare(database_url: str) -> tuple[str, int, str]:
    """Apply the schema and create a fresh org; return (server's URL, org id, ingest token).

    The server connects as a role of its own that row-level security holds, as in
    production (a superuser would skip the policies and their cost).
    """
    with connect(database_url) as conn:
        schema.apply_migrations(conn)
        password = schema.ensure_app_role(conn, APP_ROLE, reset_password=True)
        org = orgs.create_org(conn, f"bench-{uuid.uuid4().hex[:12]}", "Benchmark")
        token = orgs.create_ingest_token(conn, org, "bench")
    server_url = psycopg.conninfo.make_conninfo(database_url, user=APP_ROLE, password=password)
    return server_url, org.org_id, token


def _stored(database_url: str, org_id: int) -> tuple[int, int]:
    with connect(database_url) as conn, org_transaction(conn, org_id):
        rows = conn.execute("SELECT count(*) FROM log_events WHERE org_id = %s",
                            (org_id,)).fetchone()[0]
        sessions = conn.execute("SELECT count(*) FROM sessions WHERE org_id = %s",
                                (org_id,)).fetchone()[0]
    return rows, sessions


def _requests(traffic: Traffic, scenario: Scenario, token: str, count: int) -> list[bytes]:
    return [load.request_bytes(PATH, token, traffic.export_request(scenario.records,
                                                                   scenario.sessions))
            for _ in range(count)]


def _scenario(settings: Settings, scenario: Scenario, traffic: Traffic, token: str,
              bare: servers.Server, mojule: servers.Server,
              postmaster: int | None) -> tuple[Outcome, int]:
    """Measure one batch size on both servers; return it and the records Mojule accepted."""
    label = f"{scenario.name} batches ({scenario.records} records)"
    warm = _requests(traffic, scenario, token, max(2 * settings.connections,
                                                   4000 // scenario.records))
    progress(f"{label}: warming up")
    bare_warmup = _round(settings, bare, warm, settings.warmup, cycle=True,
                         postmaster=postmaster).result
    warmup = _round(settings, mojule, warm, settings.warmup, cycle=False,
                    postmaster=postmaster).result
    round_seconds = settings.seconds / settings.rounds
    rate = warmup.accepted / warmup.seconds
    count = math.ceil(rate * round_seconds * HEADROOM) + 4 * settings.connections
    count = min(count, MAX_REQUEST_BYTES // settings.rounds // len(warm[0]))
    progress(f"{label}: generating {settings.rounds} x {count} requests for Mojule")
    rounds = [_requests(traffic, scenario, token, count) for _ in range(settings.rounds)]
    outcome = Outcome(scenario, Measurement(bare.name, scenario.records),
                      Measurement(mojule.name, scenario.records))
    # A failed request counts even when it was only warming up.
    outcome.bare.errors.update(bare_warmup.errors)
    outcome.mojule.errors.update(warmup.errors)
    for number, requests in enumerate(rounds, 1):
        progress(f"{label}: round {number} of {settings.rounds}")
        outcome.bare.add(_round(settings, bare, warm, round_seconds, cycle=True,
                                postmaster=postmaster))
        outcome.mojule.add(_round(settings, mojule, requests, round_seconds, cycle=False,
                                  postmaster=postmaster))
    accepted = (warmup.accepted + outcome.mojule.accepted) * scenario.records
    return outcome, accepted


def _round(settings: Settings, server: servers.Server, requests: list[bytes], seconds: float,
           *, cycle: bool, postmaster: int | None) -> Sample:
    """Send requests to one server for ``seconds``; return what came back and the CPU used."""
    app_before = servers.cpu_seconds(server.process.pid)
    pg_before = servers.cpu_seconds(postmaster) if postmaster else {}
    machine_before, started = servers.machine_busy(), time.monotonic()
    result = load.run(server.address, requests, seconds=seconds,
                      connections=settings.connections, cycle=cycle)
    machine, wall = servers.machine_busy() - machine_before, time.monotonic() - started
    cpu = {
        "app": servers.cpu_used(app_before, servers.cpu_seconds(server.process.pid)),
        "postgres": (servers.cpu_used(pg_before, servers.cpu_seconds(postmaster))
                     if postmaster else math.nan),
        "client": result.client_cpu,
    }
    cpu["others"] = max(0.0, machine - sum(v for v in cpu.values() if not math.isnan(v)))
    if result.errors:
        # The server's log is deleted with the run; its last lines say why.
        print(f"{server.name} answered errors {dict(result.errors)}; the end of its log:\n"
              f"{server.log_tail()}", file=sys.stderr)
    return Sample(result, cpu, wall)
