"""An org's monthly budget for Claude Code, and where the month stands against it.

Mojule only observes: a budget pauses nothing. It tells admins, on the overview and
through GET /api/v1/budget (for alerting), what the calendar month has cost so far and
what it is on pace to cost by its end at its rate so far. Months run in UTC, as billing
months do, so every admin and every alert sees the same month.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import psycopg

from mojule import analytics
from mojule.orgs import Org

MICRO = Decimal("0.000001")
MICROSECOND = timedelta(microseconds=1)
# A budget as an admin types it: dollars, thousands grouped by commas or not, and cents.
# Nothing else: "5.000,00" or "1,25" read otherwise than meant would be saved wrong.
BUDGET_TEXT = re.compile(r"\$?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]{1,2})?")
MAX_BUDGET = Decimal("999999999999.99")      # numeric(14, 2)
# The pace of the month's first days says little (ten minutes of $10 is $44,640 a month):
# no forecast until this share of the month has passed.
FORECAST_FROM_SHARE = Decimal("0.1")


class InvalidBudget(ValueError):
    """A monthly budget is an amount of US dollars above 0, such as 5000, 5,000 or
    5000.00 (a point before the cents), or none."""


def parse_budget(text: str) -> Decimal | None:
    """Read a budget as typed ("5000", "$1,250.50", "" or "none" for none). Raises
    InvalidBudget."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return None
    matched = BUDGET_TEXT.fullmatch(text)
    if not matched:
        raise InvalidBudget()
    amount = Decimal(matched[1].replace(",", "") + (matched[2] or ""))
    if not 0 < amount <= MAX_BUDGET:
        raise InvalidBudget()
    return amount.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class MonthToDate:
    """The UTC calendar month of ``as_of``: [start, end), what it cost until ``as_of``
    and, once FORECAST_FROM_SHARE of it has passed, what it is on pace for."""

    start: datetime
    end: datetime
    as_of: datetime
    budget_usd: Decimal | None
    spent_usd: Decimal
    forecast_usd: Decimal | None

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
        return (self.budget_usd is not None and self.forecast_usd is not None
                and self.forecast_usd > self.budget_usd)


def month_to_date(conn: psycopg.Connection, org: Org,
                  as_of: datetime | None = None) -> MonthToDate:
    """Return the org's cost so far this UTC month against its budget."""
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    start = datetime(as_of.year, as_of.month, 1, tzinfo=UTC)
    end = datetime(as_of.year + as_of.month // 12, as_of.month % 12 + 1, 1, tzinfo=UTC)
    (totals,) = analytics.usage(conn, org.org_id, start, max(as_of, start + MICROSECOND))
    spent = totals["cost_usd"]
    # Whole microseconds, in integers: no float between the cost and its pace.
    elapsed, whole = (as_of - start) // MICROSECOND, (end - start) // MICROSECOND
    forecast = None
    if elapsed >= FORECAST_FROM_SHARE * whole:
        with localcontext() as exact:
            exact.prec = 60         # a trillion dollars' micro-dollars times a month's µs
            forecast = (spent * whole / elapsed).quantize(MICRO)
    return MonthToDate(start, end, as_of, org.monthly_budget_usd, spent, forecast)


def budget_text(org: Org) -> str:
    """The org's budget as people read it: $5,000.00 a month, or none."""
    if org.monthly_budget_usd is None:
        return "none"
    return f"${org.monthly_budget_usd:,.2f} a month"


def budget_change(before: Decimal | None, after: Decimal | None) -> dict[str, list[str | None]]:
    """The audit details of a budget change ({} when it did not change)."""
    if before == after:
        return {}
    return {"monthly_budget_usd": [None if value is None else str(value)
                                   for value in (before, after)]}


def as_json(month: MonthToDate) -> dict:
    """The month's standing as GET /api/v1/budget answers it."""
    return {"month": month.month, "from": month.start.isoformat(),
            "to": month.end.isoformat(), "as_of": month.as_of.isoformat(),
            "budget_usd": month.budget_usd, "spent_usd": month.spent_usd,
            "forecast_usd": month.forecast_usd, "share_spent": month.share_spent,
            "over_budget": month.over, "on_pace_over_budget": month.on_pace_over}
