"""How the dashboard writes money, counts, shares, durations and times (Jinja filters).

Money is in dollars with cents and grouped thousands; the exact micro-dollars go in a
title. Times are written in UTC, for the page's script to show in the viewer's zone.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

AUDIT_DETAILS_SHOWN = 300    # characters of an audit row's details on the audit log page


def usd(value: Any) -> str:
    """Format an amount as dollars with cents, grouped: $1,234.57."""
    cents = Decimal(str(value or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${cents:,.2f}"


def usd_exact(value: Any) -> str:
    """Format an amount with all its micro-dollars, for a title: $0.016880."""
    return f"${Decimal(str(value or 0)):,.6f}"


def number(value: Any) -> str:
    """Format a count grouped by thousands: 1,234,567."""
    return f"{round(value or 0):,}"


def percent(part: Any, whole: Any) -> str:
    """Format ``part`` as a share of ``whole`` (an em dash when there is no whole)."""
    if not whole:
        return "—"
    return f"{100 * (part or 0) / whole:.0f}%"


def change(now: Any, before: Any) -> str | None:
    """Format how ``now`` differs from ``before`` as a whole percentage, +12% or −8% (or
    "no change"); None when there was nothing before to compare with."""
    if not before:
        return None
    rounded = round((Decimal(str(now or 0)) - Decimal(str(before))) * 100 / Decimal(str(before)))
    if rounded == 0:
        return "no change"
    return f"{'+' if rounded > 0 else '−'}{abs(rounded):,}%"


def duration(seconds: Any) -> str:
    """Format seconds as 2 h 05 min, 3 min 20 s, 45 s or, for a moment, under 1 s."""
    if 0 < (seconds or 0) < 0.5:
        return "under 1 s"
    seconds = round(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def utc_text(moment: str | datetime | None) -> str:
    """Format a time (ISO 8601 text or datetime) as UTC text, shown until the browser
    formats it in the viewer's time zone."""
    if not moment:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")


def audit_details(details: Mapping[str, Any] | None) -> str:
    """An audit row's details on one line, "name: value · ...", cut to AUDIT_DETAILS_SHOWN
    characters (the export and the API have them whole)."""
    parts = []
    for name, value in (details or {}).items():
        if isinstance(value, list):
            text = ", ".join(map(_detail_text, value)) or "none"
        else:
            text = _detail_text(value)
        parts.append(f"{name}: {text}")
    line = " · ".join(parts)
    return line if len(line) <= AUDIT_DETAILS_SHOWN else line[:AUDIT_DETAILS_SHOWN - 1] + "…"


def _detail_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)
