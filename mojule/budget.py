"""An org's monthly budget for Claude Code, and where the month stands against it.

Mojule only observes: a budget pauses nothing. It tells admins, on the overview and
through GET /api/v1/budget (for alerting), what the calendar month has cost so far in
their time zone, and what it is on pace to cost by its end at its rate so far.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from mojule import analytics
from mojule.orgs import Org

MICRO = Decimal("0.000001")
MICROSECOND = timedelta(microseconds=1)
# A budget as an admin gives it: dollars and cents, up to a trillion.
MAX_BUDGET = Decimal("999999999999.99")


class InvalidBudget(ValueError):
    """A monthly budget is an amount of dollars above 0 with at most two decimals, or none."""


def parse_budget(text: str) -> Decimal | None:
    """Read a budget as typed ("5000", "1,250.50", "" or "none" for none). Raises
    InvalidBudget."""
    text = text.strip().replace(",", "").removeprefix("$")
    if text.lower() in ("", "none"):
        return None
    try:
        amount = Decimal(text)
    except ArithmeticError:
        raise InvalidBudget() from None
    if not amount.is_finite() or not 0 < amount <= MAX_BUDGET or amount != round(amount, 2):
        raise InvalidBudget()
    return amount.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class MonthToDate:
    """The calendar month of ``as_of`` in ``tz``: [start, end), what it cost until
    ``as_of`` and what it is on pace for."""

    tz: str
    start: datetime
    end: datetime
    as_of: datetime
    budget_usd: Decimal | None
    spent_usd: Decimal
    forecast_usd: Decimal

    @property
    def month(self) -> str:
        return f"{self.start:%Y-%m}"

    @property
    def share_spent(self) -> float | None:
        """The share of the budget spent (1.0: all of it), or None without a budget."""
        return None if self.budget_usd is None else float(self.spent_usd / self.budget_usd)

    @property
    def over(self) -> bool:
        return self.budget_usd is not None and self.spent_usd > self.budget_usd

    @property
    def on_pace_over(self) -> bool:
        return self.budget_usd is not None and self.forecast_usd > self.budget_usd


def month_to_date(conn: psycopg.Connection, org: Org, tz: str,
                  as_of: datetime | None = None) -> MonthToDate:
    """Return the org's cost so far this month in ``tz`` (a zone the caller checked:
    params.time_zone, viewer_tz) against its budget."""
    as_of = as_of or datetime.now(UTC)
    zone = ZoneInfo(tz)
    local = as_of.astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    end = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=zone)
    (totals,) = analytics.usage(conn, org.org_id, start, max(as_of, start + MICROSECOND),
                                [], tz)
    spent = totals["cost_usd"]
    # In UTC: subtracting times of one ZoneInfo ignores a change of offset between them.
    elapsed = (as_of - start.astimezone(UTC)) / (end.astimezone(UTC) - start.astimezone(UTC))
    forecast = (spent / Decimal(repr(elapsed))).quantize(MICRO) if elapsed > 0 else spent
    return MonthToDate(tz, start, end, as_of, org.monthly_budget_usd, spent, forecast)


def budget_text(org: Org) -> str:
    """The org's budget as people read it: $5,000.00 a month, or none."""
    if org.monthly_budget_usd is None:
        return "none"
    return f"${org.monthly_budget_usd:,.2f} a month"


def budget_change(before: Org, after: Org) -> dict[str, list[str | None]]:
    """The audit details of a budget change ({} when it did not change)."""
    if before.monthly_budget_usd == after.monthly_budget_usd:
        return {}
    return {"monthly_budget_usd": [None if value is None else str(value) for value in
                                   (before.monthly_budget_usd, after.monthly_budget_usd)]}


def as_json(month: MonthToDate) -> dict:
    """The month's standing as GET /api/v1/budget answers it."""
    return {"month": month.month, "tz": month.tz, "from": month.start.isoformat(),
            "to": month.end.isoformat(), "as_of": month.as_of.isoformat(),
            "budget_usd": month.budget_usd, "spent_usd": month.spent_usd,
            "forecast_usd": month.forecast_usd, "share_spent": month.share_spent,
            "over_budget": month.over, "on_pace_over_budget": month.on_pace_over}
