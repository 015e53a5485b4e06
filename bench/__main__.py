"""``python -m bench`` (``make bench``): Mojule's ingest against a bare Flask endpoint.

Starts a throwaway PostgreSQL (or uses MOJULE_BENCH_DATABASE_URL), Mojule and the bare
endpoint under the same gunicorn settings, replays Claude-Code-shaped log batches at
both, prints a table and one JSON line, and checks that every record Mojule accepted
was stored. Exits 1 when a request failed or a record is missing; a missed speed goal
is printed, not failed.
"""
from __future__ import annotations

import os
import signal
import sys

import click

from bench import report
from bench.run import Settings, benchmark

QUICK_SECONDS, QUICK_WARMUP, QUICK_SESSIONS = 3.0, 1.0, 200


def _stop_on_sigterm(signum, frame) -> None:
    # Unwinds like Ctrl-C, so the servers and the database are stopped on the way out.
    raise SystemExit(128 + signum)


@click.command()
@click.option("--quick", is_flag=True,
              help=f"Smoke run: {QUICK_SECONDS:g} s in one round, {QUICK_SESSIONS} sessions.")
@click.option("--seconds", type=click.FloatRange(min=0.5), default=15.0, show_default=True,
              envvar="MOJULE_BENCH_SECONDS",
              help="Timed seconds per batch size and server, all rounds together.")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              envvar="MOJULE_BENCH_ROUNDS",
              help="Alternating bare/Mojule rounds the timed run is split into.")
@click.option("--warmup", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
              envvar="MOJULE_BENCH_WARMUP",
              help="Untimed warm-up per batch size and server.")
@click.option("--workers", type=click.IntRange(min=1),
              default=len(os.sched_getaffinity(0)) * 2 + 1, show_default="2 x CPUs + 1",
              envvar="MOJULE_BENCH_WORKERS", help="gunicorn sync workers per server.")
@click.option("--connections", type=click.IntRange(min=1), default=None,
              show_default="2 x workers", envvar="MOJULE_BENCH_CONNECTIONS",
              help="Concurrent client connections (one process each), for both servers.")
@click.option("--sessions", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Distinct Claude Code sessions in the traffic.")
@click.option("--seats", type=click.IntRange(min=1), default=5, show_default=True,
              help="Distinct seats (developers) the sessions belong to. The default stays "
                   "within the evaluation allowance of an installation without a license.")
@click.option("--small", type=click.IntRange(min=1), default=10, show_default=True,
              help="Records per small batch (Claude Code's usual 5 s export).")
@click.option("--large", type=click.IntRange(min=1), default=512, show_default=True,
              help="Records per large batch (the OpenTelemetry SDK's maximum export).")
@click.option("--large-sessions", type=click.IntRange(min=1), default=16, show_default=True,
              help="Sessions per large batch, as a Collector forwarding many exporters.")
@click.option("--seed", type=int, default=2, show_default=True, help="Traffic generator seed.")
def main(quick: bool, seconds: float, rounds: int, warmup: float, workers: int,
         connections: int | None, sessions: int, seats: int, small: int, large: int,
         large_sessions: int, seed: int) -> None:
    """Benchmark Mojule's ingest against a bare Flask endpoint under the same gunicorn.

    MOJULE_BENCH_DATABASE_URL, when set, is used (schema applied, a new org created and
    left in place) instead of a throwaway embedded PostgreSQL.
    """
    if quick:
        seconds, rounds, warmup = QUICK_SECONDS, 1, QUICK_WARMUP
        sessions = min(sessions, QUICK_SESSIONS)
    settings = Settings(
        seconds=seconds, rounds=rounds, warmup=warmup, workers=workers,
        connections=connections or 2 * workers, sessions=sessions, seats=seats, small=small,
        large=large, large_sessions=min(large_sessions, large), seed=seed,
        database_url=os.environ.get("MOJULE_BENCH_DATABASE_URL") or None)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    outcome = benchmark(settings)
    click.echo(report.text(outcome))
    click.echo(report.json_line(outcome))
    sys.exit(0 if report.verified(outcome) else 1)


if __name__ == "__main__":
    main()
