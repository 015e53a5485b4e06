"""Security events: what an admin reviews in Claude Code's telemetry besides content.

The questions Claude Code's monitoring guide sends to a SIEM (who switched to a permissive
permission mode, failed logins, plugin installs, tools denied, actions a policy hook
blocked, MCP servers that failed to connect, requests the model refused), counted from the
stored events. Each kind links to the events export filtered to it, for the detail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from mojule.db import org_transaction, query


@dataclass(frozen=True)
class Kind:
    event_name: str
    label: str
    detail: str          # what the detail column holds for this kind
    explanation: str

    def export_args(self) -> dict[str, str]:
        """The events export's parameters that give exactly the events this kind counts
        (mojule_security_notable, migration 0014, decides for both)."""
        return {"event": self.event_name, "notable": "true"}


# In the order the page shows them; sql/security_events.sql knows what each one's detail
# is and which of its events count.
KINDS = (
    Kind("permission_mode_changed", "Permission mode changes", "to mode",
         "bypassPermissions and auto let Claude Code act without asking."),
    Kind("auth", "Failed logins and logouts", "action", "/login or /logout that failed."),
    Kind("plugin_installed", "Plugin installs", "", "Names are content: see the events."),
    Kind("tool_decision", "Tool uses denied", "tool",
         "By the user, a setting or a hook."),
    Kind("hook_execution_complete", "Actions blocked by hooks", "hook event",
         "A policy hook blocked at least one action."),
    Kind("mcp_server_connection", "MCP connections failed", "transport", ""),
    Kind("api_refusal", "Requests refused by the model", "model", ""),
)
KIND_NAMES = [kind.event_name for kind in KINDS]
# Who, by name, for each kind and detail: a review starts from the people, and the rest
# are in the events download.
NAMED_SEATS = 5
# Modes in which Claude Code does not ask before it acts.
PERMISSIVE_MODES = frozenset({"bypassPermissions", "auto"})


@dataclass
class KindSummary:
    kind: Kind
    events: int = 0
    seats: int = 0                 # distinct seats (events without one: one unknown seat)
    named_seats: list[str] = field(default_factory=list)   # the first NAMED_SEATS by name
    last_seen: datetime | None = None
    details: list[dict] = field(default_factory=list)   # {"detail", "events", "seats",
    #                                       "named_seats", "last_seen"}, most events first


def summary(conn: psycopg.Connection, org_id: int, start: datetime,
            end: datetime) -> list[KindSummary]:
    """Return every kind of security event in [start, end), in KINDS order, with its
    counts per detail (a kind with no events: zero counts, no details)."""
    with org_transaction(conn, org_id), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query("security_events"), {
            "org_id": org_id, "from": start, "to": end,
            "event_names": KIND_NAMES, "named": NAMED_SEATS}).fetchall()
    found = {kind.event_name: KindSummary(kind) for kind in KINDS}
    for row in rows:
        entry = found[row["event_name"]]
        if row["is_total"]:
            entry.events = row["events"]
            entry.seats = row["seats"]
            entry.named_seats = row["named_seats"]
            entry.last_seen = row["last_seen"]
        else:
            entry.details.append({name: row[name] for name in (
                "detail", "events", "seats", "named_seats", "last_seen")})
    return list(found.values())
