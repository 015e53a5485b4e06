"""Claude-Code-shaped usage data for the usage benchmark, as the rows ingest would store.

An org plan (a Zipf skew of org sizes, seats, exporter settings), then each session's
story: the log_events and metric_points rows, and the sessions row, that POST /v1/logs and
POST /v1/metrics would have written for it, as PostgreSQL COPY text lines. Columns and
values are those of mojule/logs.py and mojule/metrics.py (seat identity rules, typed
columns, usage attributes as jsonb); record ids and series hashes are random 16-byte
digests; verbatim content is not stored, only its attribute names in content_keys.

A session is interactive (turns of a prompt, tool calls and a reply, with pauses, now and
then an idle night) or headless (one turn). Each tool call is an api_request, a
tool_decision and, when accepted, a tool_result; some requests fail first (api_error), a
few never succeed (api_retries_exhausted). Metrics are exported once per turn: active
time, lines of code, code-edit decisions, commits and pull requests, and, for the seats
whose exporter sends them, cost and token usage. Most orgs export delta metrics; some
(behind a collector) cumulative ones, every series at every export.
"""
from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

NS = 1_000_000_000
DAY_NS = 86_400 * NS
SERVICE = "claude-code"
EVENTS_SCOPE = "com.anthropic.claude_code.events"
METRICS_SCOPE = "com.anthropic.claude_code"
VERSIONS = ("2.1.301", "2.1.309", "2.1.315", "2.1.320", "2.1.328")
# Dollars per million tokens: input, output, cache read, cache creation.
PRICES = {
    "claude-opus-5-5": (15.0, 75.0, 1.5, 18.75),
    "claude-sonnet-5": (3.0, 15.0, 0.3, 3.75),
    "claude-sonnet-5[1m]": (6.0, 22.5, 0.6, 7.5),
    "claude-haiku-5": (1.0, 5.0, 0.1, 1.25),
}
MAIN_MODELS = (("claude-sonnet-5", 50), ("claude-opus-5-5", 30), ("claude-sonnet-5[1m]", 12),
               ("claude-haiku-5", 8))
SIDE_MODEL = "claude-haiku-5"
TOOLS = (("Bash", 34), ("Read", 26), ("Edit", 14), ("Grep", 9), ("Glob", 5), ("Write", 5),
         ("MultiEdit", 2), ("WebFetch", 2), ("TodoWrite", 2), ("mcp__github__get_issue", 1))
EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit"})
LANGUAGES = ("Python", "TypeScript", "Go", "Java", "Rust", "Markdown", "YAML")
DEPARTMENTS = ("platform", "payments", "mobile", "data", "security", "growth", "infra", "ml")
TERMINALS = (("vscode", 35), ("iTerm.app", 18), ("cursor", 14), ("tmux", 10),
             ("Apple_Terminal", 8), ("WarpTerminal", 6), ("ghostty", 5), ("jetbrains", 4))
# Where an org's developers mostly work: hours east of UTC (India's half hour included).
OFFSETS = (-8, -7, -5, -5, -4, 0, 1, 1, 2, 5.5, 8, 9)
DECISION_SOURCES = (("config", 70), ("user_temporary", 20), ("user_permanent", 10))
# Failed API requests: overloaded, server error, rate limited.
STATUS_CODES = ((529, 5), (500, 2), (429, 2))


def pick(rng: random.Random, weighted: Sequence[tuple[str, int]]):
    """Return one of the weighted choices."""
    return rng.choices([item for item, _ in weighted], [weight for _, weight in weighted])[0]


# --- the org plan ------------------------------------------------------------------------

@dataclass(frozen=True)
class Seat:
    """One developer's Claude Code: identity, client and exporter settings."""

    identity: str
    email: str | None
    account_uuid: str | None
    user_id: str
    organization_uuid: str | None
    department: str | None
    terminal: str
    model: str
    logs: bool            # exports events
    metrics: bool         # exports metrics
    cost_metrics: bool    # its metrics include cost and token usage
    weight: float         # how much this developer uses Claude Code


@dataclass(frozen=True)
class Org:
    ordinal: int          # 0 is the biggest
    slug: str
    sessions: int         # over the whole span
    utc_offset_h: float
    cumulative: bool      # exports cumulative metrics (a collector in between)
    seats: tuple[Seat, ...] = field(repr=False, default=())


def org_sizes(orgs: int, sessions: int, skew: float) -> list[int]:
    """Return each org's session count: Zipf weights 1/rank^skew, summing to ``sessions``."""
    weights = [1 / (rank + 1) ** skew for rank in range(orgs)]
    total = sum(weights)
    sizes = [math.floor(sessions * w / total) for w in weights]
    for rank in range(sessions - sum(sizes)):
        sizes[rank % orgs] += 1
    return sizes


def make_orgs(count: int, sessions: int, skew: float, seed: int) -> list[Org]:
    """Return the org plan, the same for the same arguments."""
    result = []
    for ordinal, size in enumerate(org_sizes(count, sessions, skew)):
        rng = random.Random(f"{seed}:org:{ordinal}")
        # About four sessions per developer on a working day, over ~43 working days.
        seats = max(3, round(size / 43 / 4))
        org = Org(ordinal, f"bench-{ordinal + 1:03d}", size, rng.choice(OFFSETS),
                  cumulative=rng.random() < 0.15)
        result.append(Org(**{**org.__dict__, "seats": _seats(rng, org, seats)}))
    return result


def _seats(rng: random.Random, org: Org, count: int) -> tuple[Seat, ...]:
    organization_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    departments = rng.random() < 0.8        # the org sets OTEL_RESOURCE_ATTRIBUTES
    metrics_only_share = rng.choice((0.0, 0.05, 0.1, 0.1, 0.3))
    logs_only_share = rng.choice((0.0, 0.1, 0.2, 0.3))
    seats = []
    for number in range(count):
        user_id = f"{rng.getrandbits(256):064x}"
        oauth = rng.random() < 0.7
        email = f"dev{number}@{org.slug}.example" if oauth else None
        profile = rng.random()
        metrics_only = profile < metrics_only_share
        logs_only = not metrics_only and profile < metrics_only_share + logs_only_share
        seats.append(Seat(
            identity=email or user_id, email=email,
            account_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)) if oauth else None,
            user_id=user_id, organization_uuid=organization_uuid if oauth else None,
            department=rng.choice(DEPARTMENTS) if departments else None,
            terminal=pick(rng, TERMINALS), model=pick(rng, MAIN_MODELS),
            logs=not metrics_only, metrics=not logs_only,
            cost_metrics=metrics_only or rng.random() < 0.25,
            weight=rng.lognormvariate(0, 0.8)))
    return tuple(seats)


def day_counts(org: Org, days: int, end: datetime) -> list[int]:
    """Return the org's sessions per day (weekends quieter), summing to ``org.sessions``."""
    start = end - timedelta(days=days)
    weights = [0.3 if (start + timedelta(days=day)).weekday() >= 5 else 1.0
               for day in range(days)]
    total = sum(weights)
    counts = [math.floor(org.sessions * w / total) for w in weights]
    order = sorted(range(days), key=lambda day: -(org.sessions * weights[day] / total % 1))
    for day in order[:org.sessions - sum(counts)]:
        counts[day] += 1
    return counts


# --- COPY text -----------------------------------------------------------------------------

NULL = "\\N"
_DAY_TEXT: dict[int, str] = {}


def timestamp_text(nanos: int) -> str:
    """Return the timestamptz text of ingest's ``timestamp(nanos)``: UTC, microseconds."""
    micros = nanos // 1000
    day, rest = divmod(micros, 86_400_000_000)
    text = _DAY_TEXT.get(day)
    if text is None:
        text = _DAY_TEXT[day] = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)) \
            .strftime("%Y-%m-%d")
    seconds, fraction = divmod(rest, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{text} {hours:02d}:{minutes:02d}:{seconds:02d}.{fraction:06d}+00"


def iso_millis(time: str) -> str:
    """Return Claude Code's event.timestamp text (UTC, milliseconds, Z) of a timestamp_text."""
    return f"{time[:10]}T{time[11:23]}Z"


def value(item) -> str:
    """Return one column's COPY text (None is NULL; JSON and arrays are passed as text)."""
    if item is None:
        return NULL
    if item is True:
        return "t"
    if item is False:
        return "f"
    return str(item)


def jsonb(attributes: dict) -> str:
    # COPY text escapes backslashes; orjson writes tabs and newlines in strings as \t, \n.
    return orjson.dumps(attributes).decode().replace("\\", "\\\\")


def line(columns: Sequence) -> str:
    return "\t".join(map(value, columns)) + "\n"


# The typed columns of log_events from model to attempt, and of metric_points from model
# to language, in COPY order; an event without any has them all NULL.
USAGE_COLUMNS = ("model", "input_tokens", "output_tokens", "cache_read_tokens",
                 "cache_creation_tokens", "cost_usd", "cost_usd_micros", "duration_ms",
                 "tool_name", "decision", "decision_source", "success", "error_type",
                 "status_code", "attempt")
NO_USAGE_COLUMNS = "\t".join([NULL] * len(USAGE_COLUMNS))
# severity_number, severity_text, trace_id, span_id: Claude Code sets none of them.
NO_TRACE_COLUMNS = "\t".join([NULL] * 4)
POINT_COLUMNS = ("model", "type", "tool_name", "decision", "language")


def double_text(number: float) -> str:
    """Return a double as ingest stores it: the shortest text that reads back the same."""
    return repr(float(number))


# --- one session ----------------------------------------------------------------------------

@dataclass
class SessionRows:
    """What one session wrote: COPY lines for its three tables, and counts."""

    session_id: str
    log_lines: list[str]
    metric_lines: list[str]
    session_line: str
    api_requests: int


class Story:
    """One Claude Code session of ``seat``, from ``start_ns``: its records in time order."""

    def __init__(self, rng: random.Random, org_id: int, org: Org, seat: Seat, start_ns: int,
                 end_ns: int):
        self.rng, self.org_id, self.org, self.seat = rng, org_id, org, seat
        self.session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.version = VERSIONS[min(len(VERSIONS) - 1, int(rng.triangular(0, len(VERSIONS),
                                                                            len(VERSIONS))))]
        self.interactive = rng.random() < 0.6
        self.clock = start_ns
        self.end_ns = end_ns
        self.sequence = -1
        self.logs: list[str] = []
        self.metrics: list[str] = []
        self.api_requests = 0
        self.base = {"user.id": seat.user_id, "session.id": self.session_id,
                     "terminal.type": seat.terminal}
        if seat.email:
            self.base = {"user.email": seat.email, "organization.id": seat.organization_uuid,
                         "user.account_uuid": seat.account_uuid, **self.base}
        resource = {"host.arch": "amd64", "os.type": rng.choice(("darwin", "linux")),
                    "service.name": SERVICE, "service.version": self.version}
        if seat.department:
            resource = {"department": seat.department, **resource}
        self.resource = resource
        self.resource_json = jsonb(resource)
        # seat_identity .. service_name, the same in every record of the session.
        self.seat_columns = "\t".join(map(value, (
            seat.identity, seat.email, seat.account_uuid, seat.user_id, seat.organization_uuid,
            seat.terminal, self.version, SERVICE)))
        # Each series' hash and, when cumulative, its running total since metric_start.
        self.series: dict[tuple, tuple[str, float]] = {}
        self.touched: set[tuple] = set()
        self.metric_start = start_ns
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    # The story -----------------------------------------------------------------------

    def play(self) -> SessionRows:
        rng = self.rng
        turns = 1 + (min(int(rng.expovariate(1 / 2.0)), 40) if self.interactive else 0)
        if self.interactive and rng.random() < 0.5:
            self.event("managed_settings_resolved", {"managed_settings.trigger": "startup"})
        start_type = "fresh" if rng.random() < 0.85 else rng.choice(("resume", "continue"))
        self.count_session(start_type)
        for turn in range(turns):
            self.turn()
            if turn < turns - 1:
                idle = rng.random() < 0.03
                self.clock += int((rng.uniform(3600, 16 * 3600) if idle
                                   else rng.lognormvariate(math.log(90), 0.9)) * NS)
                if idle and rng.random() < 0.5:
                    # The terminal was closed and the session resumed: a new process, whose
                    # cumulative counters start again from zero.
                    self.metric_start = self.clock
                    self.series = {key: (series_hash, 0) for key, (series_hash, _)
                                   in self.series.items()}
                if self.clock > self.end_ns - 600 * NS:
                    break
        session_line = line((
            self.org_id, self.session_id, self.seat.identity, self.seat.email,
            self.seat.account_uuid, self.seat.user_id, self.seat.organization_uuid,
            timestamp_text(self.first_ns), timestamp_text(self.last_ns), self.version,
            self.seat.terminal, SERVICE, self.resource_json, self.api_requests > 0))
        return SessionRows(self.session_id, self.logs, self.metrics, session_line,
                           self.api_requests)

    def turn(self) -> None:
        rng, seat = self.rng, self.seat
        prompt_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        turn_start = self.clock
        self.event("user_prompt", {"prompt.id": prompt_id,
                                   "prompt_length": str(int(rng.lognormvariate(4, 1)))},
                   content=("prompt",))
        usage: dict[str, list] = {}       # model -> [cost, input, output, cache_read, cache_creation]
        edits: dict[tuple, int] = {}      # (tool, language, decision) -> count
        lines = [0, 0]
        commits = pull_requests = 0
        calls = min(int(rng.expovariate(1 / (1.4 if self.interactive else 0.9))), 30)
        for _ in range(calls):
            side_request_failed = rng.random() < 0.12 and not self.request(prompt_id, SIDE_MODEL,
                                                                          usage)
            if side_request_failed:
                return self.export(turn_start, usage, edits, lines, commits, pull_requests)
            if not self.request(prompt_id, seat.model, usage):
                return self.export(turn_start, usage, edits, lines, commits, pull_requests)
            tool = pick(rng, TOOLS)
            accepted = rng.random() < 0.96
            decision = "accept" if accepted else "reject"
            source = pick(rng, DECISION_SOURCES)
            self.event("tool_decision", {
                "prompt.id": prompt_id, "decision": decision, "source": source,
                "tool_name": tool, "tool_use_id": f"toolu_{rng.getrandbits(64):016x}",
                "tool_source": "builtin", "permission_mode": "default"},
                columns={"tool_name": tool, "decision": decision, "decision_source": source},
                content=("tool_parameters",) if tool == "Bash" else ())
            if tool in EDIT_TOOLS:
                key = (tool, rng.choice(LANGUAGES), decision)
                edits[key] = edits.get(key, 0) + 1
            if not accepted:
                continue
            success = rng.random() < (0.85 if tool == "Bash" else 0.97)
            duration = rng.lognormvariate(math.log(1500 if tool == "Bash" else 40), 1.2)
            self.clock += int(duration * 1e6)
            attributes = {"prompt.id": prompt_id, "tool_name": tool,
                          "tool_use_id": f"toolu_{rng.getrandbits(64):016x}",
                          "success": "true" if success else "false",
                          "duration_ms": str(int(duration)),
                          "tool_result_size_bytes": str(rng.randrange(20, 40_000))}
            if not success:
                attributes["error_type"] = "ShellError" if tool == "Bash" else "ToolError"
            self.event("tool_result", attributes,
                       columns={"tool_name": tool, "success": success,
                                "duration_ms": float(int(duration)),
                                "error_type": attributes.get("error_type")},
                       content=("tool_input",) + (("tool_parameters",) if tool == "Bash" else ())
                       + (() if success else ("error",)))
            if success and tool in EDIT_TOOLS:
                lines[0] += int(rng.lognormvariate(2.5, 1.2))
                lines[1] += int(rng.lognormvariate(1.5, 1.3))
            if success and tool == "Bash":
                commits += rng.random() < 0.06
                pull_requests += rng.random() < 0.012
        if not self.request(prompt_id, seat.model, usage):
            return self.export(turn_start, usage, edits, lines, commits, pull_requests)
        self.event("assistant_response", {
            "prompt.id": prompt_id, "response_length": int(rng.lognormvariate(6, 1)),
            "model": seat.model, "query_source": "sdk" if not self.interactive else "main"},
            columns={"model": seat.model}, content=("response",))
        self.export(turn_start, usage, edits, lines, commits, pull_requests)

    def request(self, prompt_id: str, model: str, usage: dict) -> bool:
        """Play one API request (failed attempts first, sometimes); False if it never succeeded."""
        rng = self.rng
        attempt = 1
        while rng.random() < 0.025:
            status = pick(rng, STATUS_CODES)
            duration = rng.uniform(200, 4000)
            self.clock += int(duration * 1e6)
            self.event("api_error", {
                "prompt.id": prompt_id, "model": model, "status_code": status,
                "duration_ms": int(duration), "attempt": attempt},
                columns={"model": model, "error_type": None, "status_code": status,
                         "attempt": attempt, "duration_ms": float(int(duration))},
                content=("error",))
            attempt += 1
            if attempt > 10 or rng.random() < 0.05:
                self.event("api_retries_exhausted", {
                    "prompt.id": prompt_id, "model": model, "total_attempts": attempt - 1},
                    columns={"model": model, "attempt": attempt - 1})
                return False
        prices = PRICES[model]
        input_tokens = int(rng.lognormvariate(math.log(60), 1.5)) + 1
        output_tokens = int(rng.lognormvariate(math.log(350), 1.1)) + 1
        cache_read = int(rng.lognormvariate(math.log(25_000), 1.0))
        cache_creation = int(rng.lognormvariate(math.log(1_800), 1.3))
        cost = (input_tokens * prices[0] + output_tokens * prices[1] + cache_read * prices[2]
                + cache_creation * prices[3]) / 1e6
        duration = rng.lognormvariate(math.log(6000), 0.8)
        self.clock += int(duration * 1e6)
        self.api_requests += self.seat.logs   # what the session's row says it sent
        self.event("api_request", {
            "prompt.id": prompt_id, "model": model, "input_tokens": input_tokens,
            "output_tokens": output_tokens, "cache_read_tokens": cache_read,
            "cache_creation_tokens": cache_creation, "cost_usd": cost,
            "cost_usd_micros": round(cost * 1e6), "duration_ms": int(duration),
            "ttft_ms": int(duration * rng.uniform(0.1, 0.5)), "speed": "normal",
            "query_source": "main" if model != SIDE_MODEL else "auxiliary", "effort": "medium"},
            columns={"model": model, "input_tokens": input_tokens,
                     "output_tokens": output_tokens, "cache_read_tokens": cache_read,
                     "cache_creation_tokens": cache_creation, "cost_usd": double_text(cost),
                     "cost_usd_micros": round(cost * 1e6), "duration_ms": float(int(duration))})
        totals = usage.setdefault(model, [0.0, 0, 0, 0, 0])
        totals[0] += cost
        totals[1] += input_tokens
        totals[2] += output_tokens
        totals[3] += cache_read
        totals[4] += cache_creation
        return True

    # Records -------------------------------------------------------------------------

    def tick(self, low_ms: float, high_ms: float) -> int:
        self.clock += int(self.rng.uniform(low_ms, high_ms) * 1e6)
        return self.clock

    def seen(self, nanos: int) -> None:
        """Widen the session's first and last seen to a record written at ``nanos``."""
        if self.first_ns is None or nanos < self.first_ns:
            self.first_ns = nanos
        if self.last_ns is None or nanos > self.last_ns:
            self.last_ns = nanos

    def event(self, name: str, attributes: dict, columns: dict | None = None,
              content: Sequence[str] = ()) -> None:
        """Record one log event (a no-op for a seat that does not export events)."""
        nanos = self.tick(5, 900)
        if not self.seat.logs:
            return
        self.seen(nanos)
        self.sequence += 1
        time = timestamp_text(nanos)
        usage = {**self.base, "event.name": name, "event.timestamp": iso_millis(time),
                 "event.sequence": self.sequence, **attributes}
        typed = NO_USAGE_COLUMNS if columns is None else \
            "\t".join([value(columns.get(column)) for column in USAGE_COLUMNS])
        self.logs.append(
            f"{self.org_id}\t{time}\t{_digest(self.rng)}\t{nanos}\t{nanos}\t"
            f"{self.session_id}\t{name}\t{self.sequence}\t{value(attributes.get('prompt.id'))}\t"
            f"{self.seat_columns}\t{typed}\t{NO_TRACE_COLUMNS}\t{EVENTS_SCOPE}\t{self.version}\t"
            f"{{{','.join(sorted(content))}}}\t{jsonb(usage)}\t{self.resource_json}\n")

    def count_session(self, start_type: str) -> None:
        if self.seat.metrics:
            self.point("claude_code.session.count", "", 1, {"start_type": start_type},
                       self.clock, self.clock + int(self.rng.uniform(50, 400) * 1e6))

    def export(self, turn_start: int, usage: dict, edits: dict, lines: list,
               commits: int, pull_requests: int) -> None:
        """Record the turn's metric export: one point per series it touched (delta), or
        every series so far (cumulative)."""
        if not self.seat.metrics:
            return
        rng = self.rng
        now = self.tick(20, 400)
        active = [("user", max(0.5, rng.lognormvariate(math.log(8), 0.9))),
                  ("cli", max(0.1, (now - turn_start) / NS * rng.uniform(0.6, 0.95)))]
        for kind, seconds in active:
            self.point("claude_code.active_time.total", "s", round(seconds, 3), {"type": kind},
                       turn_start, now)
        if self.seat.cost_metrics:
            for model, (cost, *tokens) in usage.items():
                common = {"model": model, "query_source": "main", "effort": "medium"}
                self.point("claude_code.cost.usage", "USD", cost, common, turn_start, now)
                for kind, count in zip(("input", "output", "cacheRead", "cacheCreation"), tokens):
                    self.point("claude_code.token.usage", "tokens", count,
                               {**common, "type": kind}, turn_start, now)
        if lines[0] or lines[1]:
            for kind, count in zip(("added", "removed"), lines):
                self.point("claude_code.lines_of_code.count", "", count,
                           {"type": kind, "model": self.seat.model}, turn_start, now)
        for (tool, language, decision), count in edits.items():
            self.point("claude_code.code_edit_tool.decision", "", count,
                       {"decision": decision, "source": "config", "tool_name": tool,
                        "language": language}, turn_start, now)
        if commits:
            self.point("claude_code.commit.count", "", commits, {}, turn_start, now)
        if pull_requests:
            self.point("claude_code.pull_request.count", "", pull_requests, {}, turn_start, now)
        if self.org.cumulative:
            # Cumulative exporters repeat every series they ever saw, changed or not.
            for key, (series_hash, total) in self.series.items():
                if key not in self.touched:
                    self._point_line(key, series_hash, total, self.metric_start, now)
        self.touched = set()

    def point(self, name: str, unit: str, amount: float, attributes: dict, start: int,
              now: int) -> None:
        key = (name, unit, tuple(sorted(attributes.items())))
        if self.org.cumulative:
            series_hash, total = self.series.get(key, (None, 0))
            series_hash = series_hash or _digest(self.rng)
            total += amount
            self.series[key] = (series_hash, total)
            self.touched.add(key)
            self._point_line(key, series_hash, total, self.metric_start, now)
        else:
            series_hash = self.series.setdefault(key, (_digest(self.rng), 0))[0]
            self._point_line(key, series_hash, amount, start, now)

    def _point_line(self, key: tuple, series_hash: str, amount: float, start: int,
                    now: int) -> None:
        name, unit, attributes = key
        attributes = dict(attributes)
        self.seen(now)
        typed = "\t".join([value(attributes.get(column)) for column in POINT_COLUMNS])
        self.metrics.append(
            f"{self.org_id}\t{timestamp_text(now)}\t{_digest(self.rng)}\t{series_hash}\t"
            f"{name}\tsum\t{2 if self.org.cumulative else 1}\tt\t{unit}\t{start}\t{now}\t"
            f"{double_text(amount)}\t{NULL}\t{self.session_id}\t{self.seat_columns}\t"
            f"{typed}\t{METRICS_SCOPE}\t{self.version}\t{{}}\t"
            f"{jsonb({**self.base, **attributes})}\t{self.resource_json}\n")


def _digest(rng: random.Random) -> str:
    """A random 16-byte digest as COPY text for bytea."""
    return "\\\\x" + rng.randbytes(16).hex()
