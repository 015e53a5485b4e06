"""A fake of the Anthropic Messages API: enough for the real Claude Code CLI to run a
scripted session offline (tests/test_claude_code_cli.py).

Claude Code (2.1.328, with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1) calls only
``POST /v1/messages?beta=true``, streaming, once per turn. Each answer follows a script
read from the conversation itself, so no state is kept between calls: the Agent tool
first when a subagent is asked for (the subagent's own conversation gets a short answer),
then the Write tool creating hello.txt, then ``cat hello.txt`` through Bash as many times
as asked, then a final text. A call without tools gets a short text.

Every answer reports its own usage, all four kinds of tokens, with counts whose cost has
fractions of a micro-dollar at any model's prices: Claude Code adds those costs up
unrounded, and Mojule must count them as it does. ``answers`` keeps what each call was
told, for the test to add up. A script may also slow every answer down (so that several
metric exports happen) or fail the first calls with given statuses (so that Claude Code
retries).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
FILE_TEXT = "hello\nfrom the\nfake API\n"
SUBAGENT_TASK = "SUBAGENT-TASK: reply with hi"


@dataclass
class Script:
    workdir: Path                   # where the Write tool creates hello.txt
    bash_rounds: int = 1            # `cat hello.txt` calls after the Write
    subagent_model: str | None = None   # run the Agent tool first, on this model alias
    delay: float = 0.0              # seconds each answer waits before it is sent
    failures: tuple = ()            # HTTP statuses the first calls get instead of an answer

    def tools(self) -> list[str]:
        """The tools the main conversation calls, in order."""
        return ([*(["Agent"] if self.subagent_model else []), "Write"]
                + ["Bash"] * self.bash_rounds)

    def reply(self, request: dict) -> list[dict]:
        """Return the content blocks that answer a Messages request."""
        messages = request.get("messages") or []
        if not request.get("tools"):
            return [text("Fake session")]
        if SUBAGENT_TASK in json.dumps(messages[:1]):
            return [text("hi")]
        done = sum(1 for message in messages if message.get("role") == "user"
                   and isinstance(message.get("content"), list)
                   for block in message["content"]
                   if isinstance(block, dict) and block.get("type") == "tool_result")
        script = self.tools()
        if done >= len(script):
            return [text("Done: hello.txt has three lines.")]
        return [tool_use(script[done], done, self._input(script[done]))]

    def _input(self, tool: str) -> dict:
        if tool == "Agent":
            return {"description": "Say hi", "prompt": SUBAGENT_TASK,
                    "subagent_type": "general-purpose", "model": self.subagent_model}
        if tool == "Write":
            return {"file_path": str(self.workdir / "hello.txt"), "content": FILE_TEXT}
        return {"command": "cat hello.txt", "description": "Show the file"}


def text(words: str) -> dict:
    return {"type": "text", "text": words}


def tool_use(name: str, turn: int, arguments: dict) -> dict:
    return {"type": "tool_use", "id": f"toolu_fake_{turn:04d}_{name.lower()}", "name": name,
            "input": arguments}


def usage(call: int) -> dict:
    """The usage of the ``call``-th answer: distinct per call, never a whole micro-dollar."""
    return {"input_tokens": 1207 + call, "output_tokens": 81 + call,
            "cache_creation_input_tokens": 2007 + 10 * call,
            "cache_read_input_tokens": 15007 + 100 * call}


@dataclass
class FakeAnthropic:
    url: str
    answers: list[dict] = field(default_factory=list)   # {"model", "usage"} per answer
    failed: list[int] = field(default_factory=list)     # statuses of the failed calls


@contextmanager
def fake_anthropic(script: Script) -> Iterator[FakeAnthropic]:
    """Serve the fake on a free loopback port for the length of the block."""
    lock = threading.Lock()
    fake = FakeAnthropic(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:   # quiet: the test reports what matters
            pass

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path.split("?")[0] != "/v1/messages":
                return self._send(404, "application/json", json.dumps({
                    "type": "error", "error": {"type": "not_found_error",
                                               "message": f"no {self.path} here"}}).encode())
            with lock:
                failed = len(fake.failed)
                if failed < len(script.failures):
                    fake.failed.append(script.failures[failed])
                    status = script.failures[failed]
                else:
                    status = None
            if status is not None:
                kind = "overloaded_error" if status == 529 else "api_error"
                return self._send(status, "application/json", json.dumps({
                    "type": "error", "error": {"type": kind, "message": "Fake failure"}}).encode())
            if script.delay:
                time.sleep(script.delay)
            with lock:
                call = len(fake.answers) + 1
                answer = {"model": request["model"], "usage": usage(call)}
                fake.answers.append(answer)
            message = {"id": f"msg_fake_{call:04d}", "type": "message", "role": "assistant",
                       "model": answer["model"], "content": script.reply(request),
                       "stop_reason": None, "stop_sequence": None, "usage": answer["usage"]}
            if request.get("stream"):
                self._send(200, "text/event-stream", b"".join(stream(message)))
            else:
                message["stop_reason"] = stop_reason(message["content"])
                self._send(200, "application/json", json.dumps(message).encode())

        def do_HEAD(self) -> None:  # Claude Code's connectivity check, when not turned off
            self._send(200, "application/json", b"")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def stop_reason(blocks: list[dict]) -> str:
    return "tool_use" if any(block["type"] == "tool_use" for block in blocks) else "end_turn"


def stream(message: dict) -> Iterator[bytes]:
    """The server-sent events of a streamed answer, as the API sends them: the final usage
    comes in message_delta."""
    blocks = message["content"]
    yield event("message_start", {"message": {
        **message, "content": [], "usage": {**message["usage"], "output_tokens": 1}}})
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            yield event("content_block_start",
                        {"index": index, "content_block": {"type": "text", "text": ""}})
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            yield event("content_block_start",
                        {"index": index, "content_block": {**block, "input": {}}})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield event("content_block_delta", {"index": index, "delta": delta})
        yield event("content_block_stop", {"index": index})
    yield event("message_delta", {"delta": {"stop_reason": stop_reason(blocks),
                                            "stop_sequence": None},
                                  "usage": message["usage"]})
    yield event("message_stop", {})


def event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()
