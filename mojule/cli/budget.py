"""``mojule budget check``: where each org's month stands against its budget, for cron
and monitoring (a budget is never enforced; this is how someone hears of it)."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from mojule import budget, orgs
from mojule.cli import CliContext, cli, parse_moment, pass_cli

# The exit status when an org is over its budget (or on pace to be, with --fail-on pace):
# apart from 1 (an error, such as a database that cannot be reached) and 2 (a usage
# error), so that a monitor tells "over budget" from "could not check".
OVER_BUDGET = 3
FAIL_ON = ("over", "pace", "never")


@cli.group("budget")
def budget_group() -> None:
    """The orgs' monthly budgets: what each month has cost against them."""


@budget_group.command("check")
@click.option("--org", "slug", help="Only this org (default: every org with a budget).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="over", show_default=True,
              help="Exit with status 3 when an org is over its budget (over), also when "
                   "it is on pace to be by the month's end (pace), or never.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per org and line, as GET /api/v1/budget answers.")
@click.option("--as-of", "as_of_text", metavar="TIMESTAMP",
              help="Stand-in for the current time (ISO 8601), for tests and reruns.")
@pass_cli
def budget_check(ctx: CliContext, slug: str | None, fail_on: str, as_json: bool,
                 as_of_text: str | None) -> None:
    """Show each org's UTC month so far against its monthly budget: spent, share, the
    month's pace, and whether it is over. Exits 3 when one is over (see --fail-on)."""
    as_of = parse_moment(as_of_text, "--as-of") or datetime.now(UTC)
    picked = [ctx.org(slug)] if slug else [org for org in orgs.list_orgs(ctx.conn)
                                          if org.monthly_budget_usd is not None]
    if not picked:
        click.echo("no org has a monthly budget (mojule org set SLUG --monthly-budget USD)",
                   err=True)
        return
    alarms = []
    if not as_json:
        click.echo(f"{'ORG':<24}  {'MONTH':<7}  {'SPENT':>14}  {'BUDGET':>14}  {'SHARE':>6}  "
                   f"{'ON PACE FOR':>14}  STATE")
    for org in picked:
        month = budget.month_to_date(ctx.conn, org, as_of)
        state = _state(month)
        if (month.over and fail_on != "never") or (month.on_pace_over and fail_on == "pace"):
            alarms.append(org.slug)
        if as_json:
            click.echo(json.dumps({"org": org.slug, **budget.as_json(month), "state": state},
                                  default=str))
        else:
            click.echo(f"{org.slug:<24}  {month.month:<7}  {_usd(month.spent_usd):>14}  "
                       f"{_usd(month.budget_usd):>14}  {_share(month):>6}  "
                       f"{_usd(month.forecast_usd):>14}  {state}")
    if alarms:
        what = "over, or on pace to be over," if fail_on == "pace" else "over"
        click.echo(f"{len(alarms)} org(s) {what} their monthly budget: {', '.join(alarms)}",
                   err=True)
        click.get_current_context().exit(OVER_BUDGET)


def _state(month: budget.MonthToDate) -> str:
    if month.budget_usd is None:
        return "no budget"
    if month.over:
        return "over"
    if month.on_pace_over:
        return "on pace to be over"
    return "within"


def _usd(amount) -> str:
    return "-" if amount is None else f"${amount:,.2f}"


def _share(month: budget.MonthToDate) -> str:
    share = month.share_spent
    return "-" if share is None else f"{share:.0%}"
