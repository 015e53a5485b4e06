"""Which attributes are verbatim content, to be split out at ingest and stored encrypted.

The list follows Claude Code's telemetry reference (prompts, responses, tool inputs and
parameters, commands, file paths, error texts, raw API bodies, hook definitions) plus the
OpenTelemetry GenAI semantic-convention keys that carry messages. Claude Code's own
"redaction" flags are not trusted: a key on this list is encrypted whatever its value.
Operators extend it with MOJULE_CONTENT_KEYS, and any other long string is treated as
content too, so an unknown exporter's payload does not land in plaintext.
"""
from __future__ import annotations

from typing import Any

from mojule.otlp import Unstorable
from mojule.otlp.fields import MAX_DEPTH

CONTENT_KEYS = frozenset({
    # Claude Code log events and spans
    "prompt", "prompt_text", "user_prompt", "response", "body", "body_ref",
    "tool_parameters", "tool_input", "tool_output", "error", "file_path", "full_command",
    "bash_command", "bash_argv0", "command", "skill_name", "subagent_type", "agent_type",
    "new_context", "system_prompt_preview", "user_system_prompt", "response.model_output",
    "hook_definitions", "hook_matcher", "command_name", "server_name", "workspace.host_paths",
    # Names of the user's own plugins, skills, agents, MCP servers and workflows, which
    # Claude Code sends verbatim with OTEL_LOG_TOOL_DETAILS (on events and cost metrics),
    # and the refusal category of api_refusal
    "plugin.name", "plugin.version", "marketplace.name", "skill.name", "agent.name",
    "mcp_server.name", "mcp_tool.name", "workflow.name", "category",
    # The process's command line (OpenTelemetry's process detector): `claude -p "..."`
    # carries the prompt in it
    "process.command_args", "process.command_line",
    # OpenTelemetry semantic conventions that carry messages, errors or code
    "gen_ai.prompt", "gen_ai.completion", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.system_instructions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
    "exception.message", "exception.stacktrace", "error.message", "db.query.text",
    "db.statement", "code.stacktrace",
})

# Indexed GenAI keys of the older semantic conventions (gen_ai.prompt.0.content ...).
CONTENT_KEY_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.")

# Span events whose every attribute is content: Claude Code's tool input/output bodies,
# and the GenAI message events.
CONTENT_SPAN_EVENTS = frozenset({
    "tool.output", "gen_ai.user.message", "gen_ai.assistant.message",
    "gen_ai.system.message", "gen_ai.tool.message", "gen_ai.choice",
})
# The span (and its children, claude_code.tool.*) whose events' attributes are all
# content, whatever the event's name: Claude Code documents no keys for its tool.output
# event, and may add events beside it.
CONTENT_EVENTS_SPAN = "claude_code.tool"


def span_events_are_content(span_name: str) -> bool:
    """Return True when every attribute of the span's events is content."""
    return span_name == CONTENT_EVENTS_SPAN or span_name.startswith(CONTENT_EVENTS_SPAN + ".")

# Pseudo-attribute names for content that is not an attribute, and the prefix under which
# a resource attribute's content is stored with each record.
LOG_BODY = "log.body"
STATUS_MESSAGE = "status.message"
RESOURCE_PREFIX = "resource."
SCOPE_PREFIX = "scope."
METADATA_PREFIX = "metadata."

# OTLP's own texts (a span's or span event's name, a log's severity text and event name,
# a metric's unit and description, a scope's name and version, a trace state, a schema
# URL) are labels, not content, unless one is as long as content: some instrumentations
# name a span after its SQL statement, and span.addEvent(message) names an event after a
# message. Such a text is stored as content under OTLP_FIELD_PREFIX and its field's name.
OTLP_FIELD_PREFIX = "otlp."

# Content is stored under its attribute name, which is part of an indexed key, and a btree
# entry holds at most 2704 bytes. No exporter sends a key anywhere near this long.
MAX_KEY_LENGTH = 256


class ContentPolicy:
    """Splits attribute dicts into usage (plaintext) and content (to encrypt)."""

    def __init__(self, extra_keys: tuple[str, ...] = (), long_string: int = 1024):
        self.keys = CONTENT_KEYS | frozenset(extra_keys)
        self.long_string = long_string

    def is_content(self, key: str, value: Any) -> bool:
        """Return True when the attribute ``key`` with ``value`` must be stored encrypted."""
        if key in self.keys or key.startswith(CONTENT_KEY_PREFIXES) or len(key) >= self.long_string:
            return True
        if isinstance(value, str):
            return len(value) >= self.long_string
        if isinstance(value, (list, dict)):
            return (_longest_string(value) >= self.long_string
                    or _names_content(value, self.keys))
        return False

    def take_long_text(self, content: dict[str, Any], field: str, value: Any) -> Any:
        """Return an OTLP field's ``value``, or None once it is moved into ``content`` as
        ``otlp.<field>``: a text of ``long_string`` characters or more is content,
        whichever field it came in."""
        if type(value) is str and len(value) >= self.long_string:
            content[OTLP_FIELD_PREFIX + field] = value
            return None
        return value

    def split(self, attributes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (usage attributes, content attributes); the input is left untouched.

        A key as long as content (``long_string``) is content itself, with its value.
        Content under a key longer than MAX_KEY_LENGTH is dropped: it cannot be stored
        encrypted, and must not be stored in clear. So is usage text that PostgreSQL
        refuses (Unstorable: a NUL); content keeps it, as it is stored encrypted.
        """
        keys, limit = self.keys, self.long_string
        content = {}
        refused = []
        # One pass with the common cases inline: this runs for every record ingested.
        for key, value in attributes.items():
            kind = type(value)
            if (key in keys or ((kind is str or kind is Unstorable) and len(value) >= limit)
                    or key.startswith(CONTENT_KEY_PREFIXES) or len(key) >= limit
                    or ((kind is list or kind is dict)
                        and (_longest_string(value) >= limit or _names_content(value, keys)))):
                content[key] = value
            elif kind is Unstorable or ((kind is list or kind is dict) and _holds_unstorable(value)):
                refused.append(key)   # text PostgreSQL refuses, and not content: dropped
        if not content and not refused:
            return attributes, content
        usage = {k: v for k, v in attributes.items() if k not in content and k not in refused}
        return usage, {k: v for k, v in content.items() if len(k) <= MAX_KEY_LENGTH}

    def split_parts(self, parts: list[dict], prefix: str,
                    field: str = "attributes") -> tuple[list[dict], dict[str, Any]]:
        """Return (parts, content) with content split out of each part's ``field``.

        For the repeated parts of a record (a span's links, a point's exemplars): content
        is named ``<prefix>.<i>.<key>``, and each stored part lists in ``content_keys``
        the names of what was taken out of it.
        """
        stored, content = [], {}
        for index, part in enumerate(parts):
            kept, taken = self.split(part[field])
            content.update({f"{prefix}.{index}.{key}": value for key, value in taken.items()})
            stored.append({**part, field: kept, "content_keys": sorted(taken)})
        return stored, content

    def split_resource(self, resource: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (usage resource attributes, content named ``resource.<key>``).

        A resource is shared by the records of a batch, but its content is stored with
        each record, so that purging or reading a record's content needs nothing else.
        """
        usage, content = self.split(resource)
        return usage, {RESOURCE_PREFIX + key: value for key, value in content.items()}


def _holds_unstorable(value: Any) -> bool:
    if type(value) is Unstorable:
        return True
    items = value.values() if type(value) is dict else value if type(value) is list else ()
    return any(_holds_unstorable(item) for item in items)


def _longest_string(value: Any, depth: int = 0) -> int:
    """Return the length of the longest text in ``value``, a kvlist's keys included."""
    if isinstance(value, str):
        return len(value)
    if depth > 32:
        return 0
    if isinstance(value, dict):
        return max((max(len(key), _longest_string(item, depth + 1))
                    for key, item in value.items()), default=0)
    items = value if isinstance(value, list) else ()
    return max((_longest_string(item, depth + 1) for item in items), default=0)


def _names_content(value: Any, keys: frozenset[str], depth: int = 0) -> bool:
    """Return True when a kvlist anywhere in ``value`` has a content key.

    Claude Code sends its attributes flat, but a collector or another SDK may nest them
    (``details: {prompt: ...}``): the whole attribute is then content, or the prompt would
    reach plaintext under a key that is not on the list. Deeper than ingest keeps
    (MAX_DEPTH) counts as content: an unread level may hold anything.
    """
    if depth > MAX_DEPTH:
        return True
    if type(value) is dict:
        return any(key in keys or key.startswith(CONTENT_KEY_PREFIXES)
                   or _names_content(item, keys, depth + 1) for key, item in value.items())
    if type(value) is list:
        return any(_names_content(item, keys, depth + 1) for item in value)
    return False
