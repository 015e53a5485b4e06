"""The benchmark's output: a table for people, then one JSON line for machines."""
from __future__ import annotations

import math
import os
from typing import Any

import orjson

from bench.run import Measurement, Outcome, Report

COLUMNS = ("{batch:<16} {server:<6} {requests:>10} {records:>10} {p50:>8} {p99:>8} "
           "{errors:>6}  {cpu:<24} {others:>7}")
CPU_NAMES = ("app", "postgres", "client")
# The CPUs this process may run on, as gunicorn.conf.py counts them.
CPUS = len(os.sched_getaffinity(0))


def figures(measurement: Measurement) -> dict[str, Any]:
    """Return the rates, latency percentiles (ms), errors and CPU use of a measurement."""
    latencies = sorted(measurement.latencies)
    seconds = max(measurement.seconds, 1e-9)
    per_request = max(measurement.accepted, 1)
    return {
        "requests_per_s": measurement.accepted / seconds,
        "records_per_s": measurement.accepted * measurement.records / seconds,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "accepted_requests": measurement.accepted,
        "errors": sum(measurement.errors.values()),
        "errors_by_kind": dict(measurement.errors),
        "seconds": measurement.seconds,
        "ended_early": measurement.exhausted,
        "cpu_ms_per_request": {name: measurement.cpu[name] * 1000 / per_request
                               for name in CPU_NAMES},
        # Share of the machine's CPUs that processes outside the benchmark used meanwhile.
        "others_cpu_share": measurement.cpu["others"] / (max(measurement.wall, 1e-9) * CPUS),
    }


def ratios(outcome: Outcome) -> dict[str, float]:
    """Return Mojule over bare: throughput (higher is better) and latency (lower is better).

    ``app_cpu`` is bare's gunicorn CPU per request over Mojule's: the throughput ratio
    to expect were PostgreSQL on CPUs of its own and the app servers CPU-bound.
    """
    bare, mojule = figures(outcome.bare), figures(outcome.mojule)
    return {
        "requests_per_s": _ratio(mojule["requests_per_s"], bare["requests_per_s"]),
        "p50_ms": _ratio(mojule["p50_ms"], bare["p50_ms"]),
        "p99_ms": _ratio(mojule["p99_ms"], bare["p99_ms"]),
        "app_cpu": _ratio(bare["cpu_ms_per_request"]["app"],
                          mojule["cpu_ms_per_request"]["app"]),
    }


def met(outcome: Outcome) -> bool:
    return ratios(outcome)["requests_per_s"] >= outcome.scenario.goal


def verified(report: Report) -> bool:
    """True when every record Mojule answered 202 for is stored, and no request failed."""
    errors = sum(sum(figures(m)["errors"] for m in (o.bare, o.mojule)) for o in report.outcomes)
    return report.stored_rows == report.accepted_records and errors == 0


def text(report: Report) -> str:
    """Return the human-readable table."""
    settings = report.settings
    lines = [
        (f"Mojule ingest benchmark: {settings.workers} gunicorn sync workers per server, "
         f"{settings.connections} client connections, {settings.seconds:g} s timed per server "
         f"in {settings.rounds} alternating round(s), {CPUS} CPUs shared by all, "
         f"{settings.sessions} sessions of {settings.seats} seats"),
        ("CPU: milliseconds per request in gunicorn / PostgreSQL / the client; others: share "
         "of the machine used by unrelated processes meanwhile; app CPU ratio: bare's gunicorn "
         "CPU per request over Mojule's"),
        "",
        COLUMNS.format(batch="batch", server="server", requests="requests/s",
                       records="records/s", p50="p50 ms", p99="p99 ms", errors="errors",
                       cpu="CPU app / pg / client", others="others"),
    ]
    for outcome in report.outcomes:
        batch = f"{outcome.scenario.name} ({outcome.scenario.records} rec)"
        for measurement in (outcome.bare, outcome.mojule):
            row = figures(measurement)
            cpu = row["cpu_ms_per_request"]
            lines.append(COLUMNS.format(
                batch=batch, server=measurement.server, requests=f"{row['requests_per_s']:.1f}",
                records=f"{row['records_per_s']:.0f}", p50=f"{row['p50_ms']:.1f}",
                p99=f"{row['p99_ms']:.1f}", errors=row["errors"],
                cpu=" / ".join("n/a" if math.isnan(cpu[name]) else f"{cpu[name]:.2f}"
                               for name in CPU_NAMES),
                others=f"{row['others_cpu_share']:.0%}"))
        ratio = ratios(outcome)
        verdict = "PASS" if met(outcome) else "MISS"
        lines.append(COLUMNS.format(
            batch="", server="ratio", requests=f"{ratio['requests_per_s']:.2f}",
            records=f"{ratio['requests_per_s']:.2f}", p50=f"{ratio['p50_ms']:.1f}x",
            p99=f"{ratio['p99_ms']:.1f}x", errors="",
            cpu=f"app CPU {ratio['app_cpu']:.2f}", others=""))
        lines.append(f"{'':<24}goal: requests/s ratio >= {outcome.scenario.goal:.2f}: {verdict}")
        lines.extend(_notes(outcome))
        lines.append("")
    lost = report.accepted_records - report.stored_rows
    lines.append(
        f"stored: {report.stored_rows} log_events rows for {report.accepted_records} records "
        f"answered 202 ({'nothing lost' if lost == 0 else f'MISMATCH: {lost} missing'}), "
        f"{report.stored_sessions} sessions")
    return "\n".join(lines)


def json_line(report: Report) -> str:
    """Return the whole report as one line of JSON."""
    return orjson.dumps({
        "benchmark": "mojule-ingest",
        "settings": report.settings.__dict__ | {"database_url": bool(report.settings.database_url),
                                                "cpus": CPUS},
        "scenarios": [{
            "name": outcome.scenario.name,
            "records_per_request": outcome.scenario.records,
            "sessions_per_request": outcome.scenario.sessions,
            "bare": _finite(figures(outcome.bare)),
            "mojule": _finite(figures(outcome.mojule)),
            "ratio": ratios(outcome),
            "goal": outcome.scenario.goal,
            "met": met(outcome),
        } for outcome in report.outcomes],
        "stored_rows": report.stored_rows,
        "accepted_records": report.accepted_records,
        "stored_sessions": report.stored_sessions,
        "verified": verified(report),
    }).decode()


def _notes(outcome: Outcome) -> list[str]:
    notes = []
    for measurement in (outcome.bare, outcome.mojule):
        if measurement.errors:
            notes.append(f"  {measurement.server} errors: {dict(measurement.errors)}")
        if measurement.exhausted:
            notes.append(f"  {measurement.server} used up its requests in a round; the rates "
                         f"cover the {measurement.seconds:.1f} s it ran")
    return notes


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _finite(row: dict) -> dict:
    # JSON has no NaN: a figure that could not be measured is null.
    cpu = {name: None if math.isnan(value) else value
           for name, value in row["cpu_ms_per_request"].items()}
    return {key: None if isinstance(value, float) and math.isnan(value) else value
            for key, value in row.items()} | {"cpu_ms_per_request": cpu}
