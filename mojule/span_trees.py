"""A session's spans as trace trees, for its trace view (API and dashboard).

Claude Code's traces (beta) root each prompt in a ``claude_code.interaction`` span, with
its model requests and tools beneath. Spans arrive in any order and parents may never
arrive (a killed process, an embedding app's TRACEPARENT), so a span whose parent is
missing is shown at the top of its trace and marked an orphan, never dropped. Each trace's
spans come out depth first, children in start order, with their depth and their offset from
the trace's start: what a waterfall needs. No content: a span carries only the names of the
attributes that held it, as the stored rows do.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mojule import accounting
from mojule.accounting import Scope
from mojule.analytics import TIMELINE_TOKENS
from mojule.db import query

# The spans one view reads: more than a long session sends (a prompt makes about five),
# few enough for one page.
SPAN_LIMIT = 5000
# What the spans' attributes and events may take, as stored, in one answer with them: a
# developer's machine can send spans of any width, and a worker holds the whole answer.
MAX_DETAIL_BYTES = 8 * 1024 * 1024
# Spans read from the server at a time, so the budget stops the reading, not the answer.
FETCH_SIZE = 250
# The longest a span may last and still stretch its trace's drawn time: a span that ends
# centuries on (a bad clock, a bad exporter) is listed as sent, not allowed to flatten
# every other bar.
DRAWN_SPAN_NANOS = 24 * 3600 * 10**9
# OTLP's SpanKind and StatusCode enums, by the names the API uses.
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer",
         5: "consumer"}
STATUSES = {0: "unset", 1: "ok", 2: "error"}
NANOS_PER_MS = 1_000_000


def session_traces(conn: psycopg.Connection, org_id: int, session_id: str,
                   seats: Mapping[str, Sequence[str]] | None = None,
                   limit: int = SPAN_LIMIT, details: bool = True,
                   max_bytes: int = MAX_DETAIL_BYTES) -> dict[str, Any] | None:
    """Return the session's traces, or None when the org has no such session (or it is
    not one of ``seats``).

    {"session_id", "span_count", "total_spans", "truncated", "traces": [{"trace_id",
    "start", "duration_ms", "span_count", "errors", "spans": [span, ...]}]}: traces in the
    order they began, each span as ``_span`` shapes it. The first ``limit`` spans by start
    time are shown, and, with ``details`` (attributes and events), only as many as fit in
    ``max_bytes`` of them as stored (the first always); ``truncated`` says some were left
    out, ``total_spans`` how many the session has.
    """
    scope = Scope(seats=seats, session_ids=[session_id], limit=1)
    with accounting.transaction(conn, org_id):
        if not accounting.find_sessions(conn, org_id, scope):
            return None
        (total,) = conn.execute(query("analytics_session_span_count"), {
            "org_id": org_id, "session_id": session_id}).fetchone()
        spans = _read_spans(conn, {"org_id": org_id, "session_id": session_id,
                                   "limit": limit, "details": details},
                            max_bytes if details else None)
    by_trace: dict[str, list[dict]] = {}
    for row in spans:
        by_trace.setdefault(row["trace_id"], []).append(row)
    return {
        "session_id": session_id,
        "span_count": len(spans),
        "total_spans": total,
        "truncated": len(spans) < total,
        "traces": [_trace(trace_id, members, details)
                   for trace_id, members in by_trace.items()],
    }


def _read_spans(conn: psycopg.Connection, params: dict[str, Any],
                max_bytes: int | None) -> list[dict]:
    """Read the spans in start order through a server-side cursor, stopping once those
    read have used ``max_bytes`` (None: no budget)."""
    spans, used = [], 0
    with conn.cursor(name="session_spans", row_factory=dict_row) as cur:
        cur.execute(query("analytics_session_spans"), params)
        while batch := cur.fetchmany(FETCH_SIZE):
            for row in batch:
                if max_bytes is not None and used >= max_bytes:
                    return spans
                used += row["stored_bytes"] or 0
                spans.append(row)
    return spans


def _trace(trace_id: str, rows: list[dict], details: bool) -> dict[str, Any]:
    """One trace: its spans in tree order (rows come in start order)."""
    start = rows[0]["start_time_unix_nano"]
    drawn = [row["end_time_unix_nano"] for row in rows
             if 0 <= row["end_time_unix_nano"] - row["start_time_unix_nano"] <= DRAWN_SPAN_NANOS]
    end = max([*drawn, rows[-1]["start_time_unix_nano"]])
    ordered = tree_order(rows)
    return {
        "trace_id": trace_id,
        "start": rows[0]["start_time"].isoformat(),
        "duration_ms": (end - start) / NANOS_PER_MS,
        "span_count": len(rows),
        "errors": sum(row["status_code"] == 2 for row in rows),
        "spans": [_span(row, depth, orphan, start, details) for row, depth, orphan in ordered],
    }


def tree_order(rows: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], int, bool]]:
    """Return (row, depth, orphan) for each row, depth first, siblings in the order given.

    A root is a span without a parent; an orphan names a parent that is not among the rows
    (or itself). Spans whose parents form a loop, which no honest exporter sends, are each
    shown once: the earliest unvisited one becomes an orphan root, and so on.
    """
    ids = {row["span_id"] for row in rows}
    children: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        parent = row["parent_span_id"]
        if parent is not None and parent in ids and parent != row["span_id"]:
            children[parent].append(index)
    visited = [False] * len(rows)
    ordered = []

    def walk(root: int, orphan: bool) -> None:
        # Iterative: a chain of parents as long as the limit must not exhaust the stack.
        stack = [(root, 0)]
        while stack:
            index, depth = stack.pop()
            if visited[index]:
                continue
            visited[index] = True
            ordered.append((rows[index], depth, orphan and index == root))
            stack.extend((child, depth + 1)
                         for child in reversed(children[rows[index]["span_id"]]))

    for index, row in enumerate(rows):
        parent = row["parent_span_id"]
        if parent is None:
            walk(index, orphan=False)
        elif parent not in ids or parent == row["span_id"]:
            walk(index, orphan=True)
    for index in range(len(rows)):
        if not visited[index]:
            walk(index, orphan=True)
    return ordered


def _span(row: Mapping[str, Any], depth: int, orphan: bool, trace_start: int,
          details: bool) -> dict[str, Any]:
    start, end = row["start_time_unix_nano"], row["end_time_unix_nano"]
    span = {
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"],
        "name": row["name"],
        "kind": KINDS.get(row["kind"], "unspecified"),
        "status": STATUSES.get(row["status_code"], "unset"),
        "start": row["start_time"].isoformat(),
        "offset_ms": (start - trace_start) / NANOS_PER_MS,
        # From the span's own times; Claude Code's duration_ms attribute is in attributes.
        "duration_ms": (end - start) / NANOS_PER_MS if end >= start else None,
        "depth": depth,
        "orphan": orphan,
        "model": row["model"],
        "tool_name": row["tool_name"],
        "success": row["success"],
        # What the waterfall shows of the attributes: a permission's decision, a model
        # request's stop reason.
        "decision": row["decision"],
        "stop_reason": row["stop_reason"],
        "link_count": row["link_count"],
        "content_keys": list(row["content_keys"]),
    }
    tokens = {short: row[name] for name, short in TIMELINE_TOKENS.items()
              if row[name] is not None}
    if tokens:
        span["tokens"] = tokens
    if details:
        span["attributes"] = row["attributes"]
        span["events"] = [_event(event, trace_start) for event in row["events"]]
    return span


def _event(event: Mapping[str, Any], trace_start: int) -> dict[str, Any]:
    # An event sent without a time has 0 (the epoch): it has no place on the trace.
    moment = event["time_unix_nano"]
    return {"name": event["name"],
            "offset_ms": (moment - trace_start) / NANOS_PER_MS if moment else None,
            "attributes": event["attributes"],
            "content_keys": event.get("content_keys", [])}
