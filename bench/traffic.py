"""Claude-Code-shaped OTLP/JSON log export requests, built from recorded fixture records.

Every record starts as a copy of a record Claude Code 2.1.328 really sent (the fixtures in
``tests/fixtures/``), keeps its attribute order and value types, and gets new values for
what differs between sessions and turns: session and seat, time, sequence, prompt and
tool ids, token counts and the content (prompts, commands, file contents, responses), so
that no two records are alike and nothing is deduplicated.

Each session plays Claude Code's story: startup events, then turns of a user prompt,
one to four tool calls (api_request, tool_decision, tool_result) and a final
api_request and assistant_response.
"""
from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "claude-code-2.1.328"
# Resource attributes a seat sets through OTEL_RESOURCE_ATTRIBUTES; Claude Code repeats
# them on every record, as the write-tool-resource-attrs fixture shows.
SEAT_ATTRIBUTES = ("user.email", "department")
# Which recorded session a tool call copies: a successful Bash, a Write, a failing Bash.
TOOL_FIXTURES = (("bash-tool", 6), ("write-tool-resource-attrs", 3), ("failing-bash", 1))
DEPARTMENTS = ("platform", "payments", "mobile", "data", "security", "growth")
TERMINALS = ("vscode", "iTerm.app", "tmux", "Apple_Terminal", "cursor", "dumb")
MODELS = ("claude-opus-5-5", "claude-sonnet-5", "claude-haiku-5")
WORDS = ("ingest", "session", "parser", "billing", "invoice", "retry", "cache", "schema",
         "token", "export", "worker", "queue", "tenant", "report", "config", "migration",
         "handler", "client", "router", "metrics", "payload", "encrypt", "deploy", "index")
# Sessions start up to this many records into their story.
STORY_START = 40
COMMANDS = ("git status", "git diff --stat", "ls -la src/{w}", "pytest -x tests/test_{w}.py",
            "grep -rn '{w}' src/", "npm run build", "make lint", "cat src/{w}/__init__.py",
            "rg --files-with-matches {w}", "python -m {w} --help")


def _fixture_records(fixture: str) -> tuple[dict, dict, list[dict]]:
    """Return (resource, scope, log records) of a recorded session, seat attributes removed."""
    payload = orjson.loads((FIXTURES / fixture / "logs.json").read_bytes())
    resource_logs = payload["resourceLogs"][0]
    scope_logs = resource_logs["scopeLogs"][0]
    resource = dict(resource_logs["resource"])
    resource["attributes"] = [item for item in resource["attributes"]
                              if item["key"] not in SEAT_ATTRIBUTES]
    records = []
    for record in scope_logs["logRecords"]:
        record = dict(record)
        record["attributes"] = [item for item in record["attributes"]
                                if item["key"] not in SEAT_ATTRIBUTES]
        records.append(record)
    return resource, scope_logs["scope"], records


def _event_name(record: dict) -> str:
    return record["body"]["stringValue"].removeprefix("claude_code.")


def _typed(template: dict, value: Any) -> dict:
    """Return ``value`` as an AnyValue of the same type the template value had."""
    kind = next(iter(template))
    if kind == "intValue":
        return {kind: int(value)}
    if kind == "doubleValue":
        return {kind: float(value)}
    if kind == "boolValue":
        return {kind: bool(value)}
    return {"stringValue": str(value)}


class Templates:
    """The recorded records by fixture and event name, and the scope they came with."""

    def __init__(self):
        self.resource: dict = {}
        self.scope: dict = {}
        self.records: dict[tuple[str, str], list[dict]] = {}
        for fixture in sorted(path.name for path in FIXTURES.iterdir()):
            resource, scope, records = _fixture_records(fixture)
            self.resource, self.scope = self.resource or resource, self.scope or scope
            for record in records:
                self.records.setdefault((fixture, _event_name(record)), []).append(record)

    def record(self, fixture: str, event: str, index: int = 0) -> dict:
        choices = self.records[(fixture, event)]
        return choices[index % len(choices)]


class Session:
    """One Claude Code process: its seat, its clock, and the records it emits in order."""

    def __init__(self, templates: Templates, rng: random.Random, seat: int, start_ns: int):
        self.templates, self.rng = templates, rng
        self.session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.user_id = f"{seat:064x}"
        self.email = f"dev{seat}@example.com" if seat % 3 else None
        self.department = DEPARTMENTS[seat % len(DEPARTMENTS)] if self.email else None
        self.terminal = TERMINALS[seat % len(TERMINALS)]
        self.clock = start_ns
        self.sequence = -1
        self.resource = self._resource()
        self._records = self._story()

    def take(self, count: int) -> list[dict]:
        """Return the session's next ``count`` records."""
        return list(islice(self._records, count))

    def _resource(self) -> dict:
        attributes = list(self.templates.resource["attributes"])
        if self.email:
            attributes[:0] = [{"key": "user.email", "value": {"stringValue": self.email}},
                              {"key": "department", "value": {"stringValue": self.department}}]
        return {**self.templates.resource, "attributes": attributes}

    def _story(self) -> Iterator[dict]:
        rng = self.rng
        yield self._record(self.templates.record("bash-tool", "managed_settings_resolved"), {})
        for plugin in range(4):
            yield self._record(self.templates.record("bash-tool", "plugin_loaded", plugin), {})
        while True:
            turn = {"prompt.id": self._uuid(), "trace": f"{rng.getrandbits(128):032x}"}
            prompt = _prose(rng, 20, 600)
            yield self._event("user_prompt", turn, {
                "prompt": prompt, "prompt_text": prompt, "prompt_length": len(prompt),
                "message.uuid": self._uuid()})
            for _ in range(rng.randint(1, 4)):
                yield self._event("api_request", turn, self._api_usage())
                fixture = rng.choices([name for name, _ in TOOL_FIXTURES],
                                      [weight for _, weight in TOOL_FIXTURES])[0]
                tool = self._tool_call(fixture)
                yield self._event("tool_decision", turn, tool, fixture)
                yield self._event("tool_result", turn, tool, fixture)
            yield self._event("api_request", turn, self._api_usage())
            response = _prose(rng, 40, 1200)
            yield self._event("assistant_response", turn, {
                "response": response, "response_length": len(response),
                "message.uuid": self._uuid(), "model": rng.choice(MODELS)})

    def _event(self, event: str, turn: dict, values: dict, fixture: str = "bash-tool") -> dict:
        record = self._record(self.templates.record(fixture, event),
                              {"prompt.id": turn["prompt.id"], **values})
        record["traceId"] = turn["trace"]
        record["spanId"] = f"{self.rng.getrandbits(64):016x}"
        return record

    def _record(self, template: dict, values: dict) -> dict:
        """Return a copy of ``template`` with this session's identity and the given values."""
        self.clock += self.rng.randint(5_000_000, 3_000_000_000)
        self.sequence += 1
        values = {
            "user.id": self.user_id, "session.id": self.session_id,
            "terminal.type": self.terminal, "event.sequence": self.sequence,
            "event.timestamp": _iso(self.clock), **values,
        }
        attributes = [item if item["key"] not in values else
                      {"key": item["key"], "value": _typed(item["value"], values[item["key"]])}
                      for item in template["attributes"]]
        if self.email:
            attributes[:0] = self.resource["attributes"][:2]
        time_unix_nano = str(self.clock)
        return {**template, "timeUnixNano": time_unix_nano, "observedTimeUnixNano": time_unix_nano,
                "attributes": attributes}

    def _api_usage(self) -> dict:
        rng = self.rng
        input_tokens, output_tokens = rng.randint(200, 40_000), rng.randint(10, 4_000)
        cache_read, cache_creation = rng.randint(0, 200_000), rng.randint(0, 20_000)
        # A large model's list prices: dollars per million tokens are micro-dollars per token.
        micros = (input_tokens * 15 + output_tokens * 75 + cache_read * 3 // 2
                  + cache_creation * 75 // 4)
        duration = rng.randint(300, 60_000)
        return {"model": rng.choice(MODELS), "input_tokens": input_tokens,
                "output_tokens": output_tokens, "cache_read_tokens": cache_read,
                "cache_creation_tokens": cache_creation, "cost_usd": micros / 1_000_000,
                "cost_usd_micros": micros, "duration_ms": duration,
                "ttft_ms": rng.randint(100, duration)}

    def _tool_call(self, fixture: str) -> dict:
        rng = self.rng
        word = rng.choice(WORDS)
        if fixture == "write-tool-resource-attrs":
            tool_input = orjson.dumps({"file_path": f"/home/dev/acme-app/src/{word}.py",
                                       "content": _code(rng)}).decode()
            parameters = ""
        else:
            command = rng.choice(COMMANDS).format(w=word)
            description = _prose(rng, 10, 60)
            parameters = orjson.dumps({"bash_command": command.split()[0], "full_command": command,
                                       "description": description}).decode()
            tool_input = orjson.dumps({"command": command, "description": description}).decode()
        return {"tool_use_id": f"toolu_{rng.getrandbits(64):016x}", "tool_parameters": parameters,
                "tool_input": tool_input, "tool_input_size_bytes": len(tool_input),
                "tool_result_size_bytes": rng.randint(0, 20_000),
                "duration_ms": rng.randint(5, 30_000),
                "error": f"Shell command failed: {_prose(rng, 20, 200)}"}

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _iso(nanos: int) -> str:
    moment = datetime.fromtimestamp(nanos // 1_000_000 / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _prose(rng: random.Random, shortest: int, longest: int) -> str:
    length = rng.randint(shortest, longest)
    words = []
    while sum(map(len, words)) + len(words) < length:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize()[:length]


def _code(rng: random.Random) -> str:
    lines = [f"def {rng.choice(WORDS)}_{n}({rng.choice(WORDS)}):\n    return {rng.choice(WORDS)}\n"
             for n in range(rng.randint(1, 30))]
    return "\n".join(lines)


class Traffic:
    """Export requests from a fixed population of sessions of a few seats (developers),
    each session continuing its own story.

    Records start a few hours back so none lands in the future, and sessions are used
    round robin, so consecutive requests touch different sessions as real traffic does.
    Each session starts somewhere in its story (its first records are dropped), so the
    startup events weigh no more than they do in real traffic.
    """

    def __init__(self, sessions: int, seats: int, seed: int):
        templates, rng = Templates(), random.Random(seed)
        start = time.time_ns() - 6 * 3600 * 10**9
        self.sessions = [Session(templates, rng, seat=rng.randrange(seats),
                                 start_ns=start + rng.randrange(3600 * 10**9))
                         for _ in range(sessions)]
        for session in self.sessions:
            session.take(rng.randrange(STORY_START))
        self.scope = templates.scope
        self._next = 0

    def export_request(self, records: int, sessions: int = 1) -> bytes:
        """Return one ExportLogsServiceRequest body of ``records`` records from ``sessions``.

        One resourceLogs entry per session, as Claude Code sends it (one session) or as an
        OpenTelemetry Collector forwards the exports of several.
        """
        share, extra = divmod(records, sessions)
        resource_logs = []
        for index in range(sessions):
            session = self.sessions[self._next % len(self.sessions)]
            self._next += 1
            resource_logs.append({
                "resource": session.resource,
                "scopeLogs": [{"scope": self.scope,
                               "logRecords": session.take(share + (index < extra))}],
            })
        return orjson.dumps({"resourceLogs": resource_logs})
