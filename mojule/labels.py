"""Names and reasons people give: an org's display name, what a token is for, why
ingestion is paused. Each is trimmed, not blank, at most a length, and on one line, as
every listing, the dashboard and the audit trail show it. The CLI's options and the
dashboard's forms check them by this one rule.
"""
from __future__ import annotations

MAX_LENGTH = 100


def label_problem(text: str, max_length: int = MAX_LENGTH) -> str | None:
    """Say what is wrong with ``text`` (trimmed already) as a label, or None."""
    if not text:
        return "must not be blank"
    if len(text) > max_length:
        return f"is {len(text)} characters; at most {max_length}"
    if not text.isprintable():
        return "must be printable text on one line"
    return None
