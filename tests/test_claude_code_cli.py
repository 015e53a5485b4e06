"""The real Claude Code CLI sends its telemetry to a live Mojule: Mojule's figures for the
session are the ones Claude Code reports about itself.

Claude Code 2.1.328, the version of the recorded fixtures (npm, tests/claude_code,
installed on first use), runs ``claude -p ... --output-format json`` sessions against the
fake Messages API of tests/fake_anthropic.py, offline, and exports logs, metrics and
traces over http/json to the live server. Its JSON result (session id, total_cost_usd,
per-model usage) is what Mojule's session must equal, to the micro-dollar and the token.
Skipped only when node or npm is not on PATH (.ci/run installs them). Another version
is one edit away: its number in tests/claude_code/package.json, then `npm install
--package-lock-only` there (2.1.332, the newest at the time of writing, passes too).
"""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import make_user
from tests.fake_anthropic import FILE_TEXT, Script, fake_anthropic
from tests.node_packages import installed

if TYPE_CHECKING:  # pytest loads tests.live itself, as a plugin, so that it rewrites asserts
    from tests.live import LiveServer

pytest_plugins = ["tests.live"]
pytestmark = pytest.mark.interop

PACKAGES = Path(__file__).parent / "claude_code"
# The version npm installs: what Claude Code reports as its app.version.
VERSION = json.loads((PACKAGES / "package.json").read_text())["dependencies"][
    "@anthropic-ai/claude-code"]
MICRO = Decimal("0.000001")
CLAUDE_TIMEOUT = 120
PROMPT = "Create hello.txt with three lines, then show it."
# A model whose prices give every request's cost fractions of a micro-dollar.
MODEL = "claude-haiku-4-5"
SEAT = "dev@example.com"


@pytest.fixture(scope="session")
def claude() -> Path:
    """Return Claude Code's native binary, installed from npm if it is not."""
    # No install script: the wrapper package's postinstall only copies the binary of the
    # platform's own package (an optional dependency npm picks by os and cpu) over a stub.
    installed(PACKAGES, "--ignore-scripts")
    found = sorted((PACKAGES / "node_modules" / "@anthropic-ai").glob("claude-code-*/claude"))
    if not found:
        pytest.fail("npm installed no Claude Code binary for this platform")
    return found[0]


def run_claude(claude: Path, home: Path, workdir: Path, api: str, mojule: LiveServer,
               token: str, signals: tuple[str, ...], *arguments: str,
               overrides: dict | None = None, check: bool = True) -> dict:
    """Run one non-interactive session; return Claude Code's JSON result."""
    exporters = {signal: "otlp" if signal in signals else "none"
                 for signal in ("logs", "metrics", "traces")}
    environ = {
        # Nothing of the caller's (a developer's own Claude Code settings) leaks in.
        "HOME": str(home), "PATH": os.environ["PATH"], "TERM": "dumb",
        "ANTHROPIC_BASE_URL": api, "ANTHROPIC_API_KEY": "sk-ant-api03-fake-key-for-tests",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1", "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
        "OTEL_LOGS_EXPORTER": exporters["logs"], "OTEL_METRICS_EXPORTER": exporters["metrics"],
        "OTEL_TRACES_EXPORTER": exporters["traces"],
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"{mojule.url}/api/ingest/otlp",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {token}",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000", "OTEL_LOGS_EXPORT_INTERVAL": "1000",
        "OTEL_LOG_USER_PROMPTS": "1", "OTEL_LOG_TOOL_DETAILS": "1",
        # One person, however many installs (each HOME is a new user.id).
        "OTEL_RESOURCE_ATTRIBUTES": f"enduser.id={SEAT}",
        "CLAUDE_CODE_OTEL_DIAG_STDERR": "1",
    }
    for key, value in (overrides or {}).items():   # None removes a variable
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    done = subprocess.run(
        [str(claude), "-p", PROMPT, "--output-format", "json", "--model", MODEL,
         "--allowedTools", "Write,Bash", "--permission-mode", "acceptEdits", *arguments],
        cwd=workdir, env=environ, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=CLAUDE_TIMEOUT, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def session(claude, live, db, org, tmp_path):
    """Run sessions of the real CLI against Mojule: ``session(script_options, signals,
    *arguments)`` returns (Claude Code's result, what the fake API answered)."""
    home, workdir = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()

    def run(signals=("logs", "metrics", "traces"), *arguments: str, env=None, check=True,
            **script) -> tuple:
        with fake_anthropic(Script(workdir, **script)) as api:
            result = run_claude(claude, home, workdir, api.url, live, org.token, signals,
                                *arguments, overrides=env, check=check)
        return result, api.answers

    return run


def claude_totals(result: dict) -> tuple[Decimal, dict[str, int]]:
    """Claude Code's cost and tokens for the session: over every model (``usage`` holds
    the main thread's only, without subagents)."""
    models = result["modelUsage"].values()
    tokens = {"input": sum(model["inputTokens"] for model in models),
              "output": sum(model["outputTokens"] for model in models),
              "cache_read": sum(model["cacheReadInputTokens"] for model in models),
              "cache_creation": sum(model["cacheCreationInputTokens"] for model in models)}
    cost = Decimal(repr(result["total_cost_usd"])).quantize(MICRO, ROUND_HALF_UP)
    return cost, tokens


def told(answers: list[dict]) -> dict[str, int]:
    """The tokens the fake API reported, added up."""
    return {short: sum(answer["usage"][name] for answer in answers)
            for short, name in (("input", "input_tokens"), ("output", "output_tokens"),
                                ("cache_read", "cache_read_input_tokens"),
                                ("cache_creation", "cache_creation_input_tokens"))}


def fetch(live: LiveServer, token: str, path: str) -> bytes:
    """GET ``path`` from the live server with a personal token; return the 200's body."""
    connection = live.connection()
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status == 200, body
    return body


def read(live: LiveServer, token: str, path: str) -> dict:
    return json.loads(fetch(live, token, path))


SIGNALS = {"logs, metrics and traces": ("logs", "metrics", "traces"),
           "metrics only": ("metrics",)}


@pytest.mark.parametrize("signals", SIGNALS)
def test_a_real_session_costs_in_mojule_what_claude_code_reports(session, live, db, org,
                                                                 signals):
    admin = make_user(db, org, "admin@example.com", "admin")
    result, answers = session(SIGNALS[signals], bash_rounds=3)
    cost, tokens = claude_totals(result)

    detail = read(live, admin.token, f"/api/v1/sessions/{result['session_id']}")

    assert tokens == told(answers)
    # Every request's cost has fractions of a micro-dollar: rounded one by one, they
    # would not add up to Claude Code's total.
    assert detail["cost_usd"] == str(cost)
    assert detail["tokens"] == tokens
    assert detail["user"]["seat_identity"] == SEAT
    assert detail["models"] == [MODEL]
    # Claude Code counts the three lines of hello.txt (and the empty one after them).
    assert detail["lines_added"] >= FILE_TEXT.count("\n")
    if "logs" in SIGNALS[signals]:
        assert detail["api_requests"] == len(answers)
        assert {name: figures["calls"] for name, figures in detail["tools"].items()} == {
            "Write": 1, "Bash": 3}
        assert all(figures["successes"] == figures["calls"]
                   for figures in detail["tools"].values())


def test_a_subagent_on_another_model_is_counted_per_model(session, live, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    result, answers = session(subagent_model="sonnet")
    cost, tokens = claude_totals(result)

    detail = read(live, admin.token, f"/api/v1/sessions/{result['session_id']}")
    by_model = read(live, admin.token, "/api/v1/usage?from=2020-01-01&group_by=model")

    assert len(result["modelUsage"]) == 2 and len({answer["model"] for answer in answers}) == 2
    assert (detail["cost_usd"], detail["tokens"]) == (str(cost), tokens)
    # Lines of code and active time carry no model: their row has no tokens.
    assert {row["key"]["model"]: row["tokens"] for row in by_model["rows"]
            if row["key"]["model"] is not None} == {
        model: {"input": usage["inputTokens"], "output": usage["outputTokens"],
                "cache_read": usage["cacheReadInputTokens"],
                "cache_creation": usage["cacheCreationInputTokens"]}
        for model, usage in result["modelUsage"].items()}


def test_a_resumed_session_adds_the_second_process_without_merging_records(session, live,
                                                                          db, org):
    # `claude --resume` is a second process with the same session.id: its events, with
    # sequence numbers of their own, are new records, never taken for the first's repeats.
    admin = make_user(db, org, "admin@example.com", "admin")
    first, first_answers = session()
    second, second_answers = session(("logs", "metrics", "traces"),
                                     "--resume", first["session_id"])
    cost, _ = claude_totals(second)

    detail = read(live, admin.token, f"/api/v1/sessions/{first['session_id']}")

    assert second["session_id"] == first["session_id"]
    assert detail["cost_usd"] == str(cost)
    assert detail["tokens"] == told(first_answers + second_answers)
    assert detail["api_requests"] == len(first_answers) + len(second_answers)


def read_csv(live: LiveServer, token: str, path: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(fetch(live, token, path).decode())))


def org_costs(live: LiveServer, token: str) -> dict[str, Decimal]:
    """The org's cost as every report adds it up."""
    costs = {"total": sum(Decimal(row["cost_usd"]) for row in read(
        live, token, "/api/v1/usage?from=2020-01-01")["rows"])}
    for group in ("day", "user", "model"):
        costs[group] = sum(Decimal(row["cost_usd"]) for row in read(
            live, token, f"/api/v1/usage?from=2020-01-01&group_by={group}")["rows"])
    for export in ("usage", "sessions"):
        costs[f"{export}.csv"] = sum(Decimal(row["cost_usd"]) for row in read_csv(
            live, token, f"/api/v1/export/{export}.csv?from=2020-01-01"))
    return costs


@pytest.mark.parametrize("signals", SIGNALS)
def test_metrics_without_a_session_id_cost_what_claude_code_reports(session, live, db, org,
                                                                    signals):
    # Claude Code 2.1.328 leaves session.id off its events and spans too with
    # OTEL_METRICS_INCLUDE_SESSION_ID=false: all of it lands in the seat's unattributed day.
    admin = make_user(db, org, "admin@example.com", "admin")
    result, answers = session(SIGNALS[signals], bash_rounds=2,
                              env={"OTEL_METRICS_INCLUDE_SESSION_ID": "false"})
    cost, tokens = claude_totals(result)

    listed = read(live, admin.token, "/api/v1/sessions?from=2020-01-01")["sessions"]
    totals = read(live, admin.token, "/api/v1/usage?from=2020-01-01")["rows"]

    assert [entry["unattributed"] for entry in listed] == [True]
    assert (listed[0]["cost_usd"], listed[0]["tokens"]) == (str(cost), tokens)
    assert totals[0]["tokens"] == tokens == told(answers)
    assert set(org_costs(live, admin.token).values()) == {cost}


@pytest.mark.parametrize("signals", SIGNALS)
def test_cumulative_metrics_over_several_exports_cost_what_claude_code_reports(
        session, live, db, org, signals):
    admin = make_user(db, org, "admin@example.com", "admin")
    # A slow API: the one-second metric exports report the running totals several times.
    result, _ = session(SIGNALS[signals], bash_rounds=2, delay=0.8,
                        env={"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative"})
    cost, tokens = claude_totals(result)

    detail = read(live, admin.token, f"/api/v1/sessions/{result['session_id']}")
    exports = db.execute("SELECT count(DISTINCT time_unix_nano) FROM metric_points"
                         " WHERE org_id = %s AND metric_name = 'claude_code.cost.usage'"
                         " AND temporality = 2", (org.org.org_id,)).fetchone()[0]

    assert exports >= 2
    assert (detail["cost_usd"], detail["tokens"]) == (str(cost), tokens)
    assert detail["lines_added"] >= FILE_TEXT.count("\n")
    assert set(org_costs(live, admin.token).values()) == {cost}


def test_gzip_and_per_signal_endpoints_reach_every_ingest_route(session, live, db, org):
    # Per-signal endpoints are used verbatim: the short aliases and the bare /v1/ route.
    admin = make_user(db, org, "admin@example.com", "admin")
    result, answers = session(env={
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_ENDPOINT": None,
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"{live.url}/api/ingest/otlp/logs",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{live.url}/v1/metrics",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{live.url}/api/ingest/otlp/traces"})
    cost, tokens = claude_totals(result)

    detail = read(live, admin.token, f"/api/v1/sessions/{result['session_id']}")
    stored = {table: db.execute(f"SELECT count(*) FROM {table} WHERE org_id = %s",
                                (org.org.org_id,)).fetchone()[0]
              for table in ("log_events", "metric_points", "spans")}

    assert all(stored.values()), stored
    assert (detail["cost_usd"], detail["tokens"]) == (str(cost), tokens)
    assert detail["api_requests"] == len(answers)


def test_resource_attributes_group_usage_without_an_enduser(session, live, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    result, _ = session(env={"OTEL_METRICS_INCLUDE_VERSION": "true",
                             "OTEL_METRICS_INCLUDE_ACCOUNT_UUID": "false",
                             "OTEL_RESOURCE_ATTRIBUTES": "department=R%26D,team.id=platform"})
    cost, _ = claude_totals(result)

    def grouped(group: str) -> list:
        return [(row["key"][group], row["cost_usd"]) for row in read(
            live, admin.token, f"/api/v1/usage?from=2020-01-01&group_by={group}")["rows"]]

    detail = read(live, admin.token, f"/api/v1/sessions/{result['session_id']}")
    # No enduser.id: the seat is the install's user.id.
    assert detail["user"]["seat_identity"] == detail["user"]["user_id"]
    assert grouped("attr:department") == [("R&D", str(cost))]
    assert grouped("attr:team.id") == [("platform", str(cost))]
    assert grouped("app_version") == [(VERSION, str(cost))]


def test_exhausted_retries_are_counted_as_an_api_error(session, live, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    # Two overloaded answers with one retry allowed: the session ends on an API error.
    result, answers = session(failures=(529, 529), check=False,
                              env={"CLAUDE_CODE_MAX_RETRIES": "1"})

    detail = read(live, admin.token, f"/api/v1/sessions/{result['session_id']}")
    totals = read(live, admin.token, "/api/v1/usage?from=2020-01-01")["rows"][0]

    assert result["is_error"] and result["api_error_status"] == 529 and not answers
    assert (detail["api_errors"], detail["api_retries_exhausted"]) == (1, 1)
    assert (totals["api_errors"], totals["api_retries_exhausted"]) == (1, 1)
    assert detail["cost_usd"] == "0.000000" and detail["api_requests"] == 0


def test_a_retried_request_costs_once(session, live, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    result, answers = session(failures=(529, 500))
    cost, tokens = claude_totals(result)

    detail = read(live, admin.token, f"/api/v1/sessions/{result['session_id']}")

    # Claude Code 2.1.328 sends no api_error for attempts a retry recovered.
    assert (detail["cost_usd"], detail["tokens"]) == (str(cost), tokens)
    assert (detail["api_requests"], detail["api_errors"]) == (len(answers), 0)


def test_prompts_and_tool_inputs_are_readable_audited_and_never_stored_in_the_clear(
        session, live, db, org):
    admin = make_user(db, org, "admin@example.com", "admin")
    result, _ = session(env={"OTEL_LOG_ASSISTANT_RESPONSES": "1", "OTEL_LOG_TOOL_CONTENT": "1"})

    content = json.dumps(read(live, admin.token,
                              f"/api/v1/sessions/{result['session_id']}/content"))
    audited = db.execute("SELECT outcome FROM audit_log WHERE org_id = %s"
                         " AND action = 'content.read' AND target_id = %s",
                         (org.org.org_id, result["session_id"])).fetchall()
    tables = [name for (name,) in db.execute(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")]
    secrets = (PROMPT, "cat hello.txt", "fake API", "Done: hello.txt")
    clear = {(table, secret) for table in tables for secret in secrets
             if db.execute(f"SELECT count(*) FROM {table} AS t WHERE t::text LIKE %s",
                           (f"%{secret}%",)).fetchone()[0]}

    assert all(secret in content for secret in secrets)
    assert audited == [("allowed",)]
    assert not clear


def test_a_second_machine_without_session_ids_adds_its_cost(claude, live, db, org, tmp_path):
    # One person, two machines (two installs, one seat): a session with session ids, and
    # one sending metrics alone without them. Neither repeats the other (migration 0020).
    admin = make_user(db, org, "admin@example.com", "admin")
    costs = []
    for name, signals, env in (("a", ("logs", "metrics"), {}),
                               ("b", ("metrics",), {"OTEL_METRICS_INCLUDE_SESSION_ID": "false"})):
        home, workdir = tmp_path / f"home-{name}", tmp_path / f"work-{name}"
        home.mkdir()
        workdir.mkdir()
        with fake_anthropic(Script(workdir)) as api:
            result = run_claude(claude, home, workdir, api.url, live, org.token, signals,
                                overrides=env)
        costs.append(claude_totals(result)[0])

    assert set(org_costs(live, admin.token).values()) == {sum(costs)}
