"""An org's monthly budget: set by the CLI or the Settings page, shown to admins against
the month's cost and its pace on the overview and through GET /api/v1/budget."""
from __future__ import annotations

import html
import json
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from click.testing import CliRunner

from mojule import analytics, orgs
from mojule.budget import InvalidBudget, month_to_date, parse_budget
from mojule.cli import cli
from tests.conftest import fixture_bytes, ingest_session
from tests.test_analytics import shifted
from tests.test_dashboard import csrf_of, person, sign_in


@pytest.mark.parametrize("text, amount", [
    ("5000", Decimal("5000.00")), ("1,250.5", Decimal("1250.50")), (" $99.99 ", Decimal("99.99")),
    ("1,000,000", Decimal("1000000.00")), ("", None), ("none", None), ("None", None),
])
def test_a_budget_is_read_as_people_type_it(text, amount):
    assert parse_budget(text) == amount


@pytest.mark.parametrize("text", [
    "0", "-5", "abc", "1.001", "NaN", "sNaN", "Infinity", "1e20", "1e3", "5 000", "1_000",
    # What another locale means by five thousand, or one and a quarter: never misread.
    "5.000,00", "1,25", "12,34.5",
    "\u0665\u0660", "\uff15\uff10", "5\u00a0000", "1" * 20, "$"])
def test_a_budget_that_is_no_amount_of_dollars_is_refused(text):
    with pytest.raises(InvalidBudget):
        parse_budget(text)


def ingest_now(client, org) -> None:
    """The bash-tool session, moved to end a minute ago: this month's only usage."""
    logs = json.loads(fixture_bytes("bash-tool", "logs"))
    last = max(int(value) for value in re.findall(r'"timeUnixNano": ?"(\d+)"',
                                                  json.dumps(logs)))
    offset = time.time_ns() - 60 * 10**9 - last
    for signal in ("logs", "metrics"):
        moved = json.dumps(shifted(json.loads(fixture_bytes("bash-tool", signal)), offset))
        assert client.post(f"/v1/{signal}", data=moved, headers=org.headers).status_code == 202


@pytest.fixture
def spending(client, db, org):
    """An org with usage this month, an admin and a member."""
    admin, member = person(db, org, "admin@example.com", "admin"), person(db, org, "dev@example.com")
    ingest_now(client, org)
    return admin, member


def set_budget(db, org, amount: str | None) -> None:
    orgs.set_monthly_budget(db, org.org, None if amount is None else Decimal(amount))


def month_cost(client, admin, answer: dict) -> Decimal:
    """The month's cost as the usage API reports it for the budget's month."""
    window = f"from={answer['from'][:10]}&to={answer['to'][:10]}"
    (row,) = client.get(f"/api/v1/usage?{window}", headers=admin.headers).get_json()["rows"]
    return Decimal(row["cost_usd"])


def test_the_budget_api_gives_the_months_cost_its_pace_and_the_budget(client, db, org,
                                                                       spending):
    admin, member = spending
    set_budget(db, org, "0.01")

    answer = client.get("/api/v1/budget", headers=admin.headers).get_json()
    spent = Decimal(answer["spent_usd"])
    start, end, as_of = (datetime.fromisoformat(answer[key]) for key in ("from", "to", "as_of"))

    assert spent == month_cost(client, admin, answer) > 0
    assert start.day == 1 and start.utcoffset().total_seconds() == 0
    assert start <= as_of < end and answer["month"] == f"{start:%Y-%m}"
    if (as_of - start) < (end - start) / 10:
        assert answer["forecast_usd"] is None           # too early in the month
    else:
        forecast = Decimal(answer["forecast_usd"])
        assert abs(forecast - spent * Decimal((end - start) / (as_of - start))) < Decimal("0.01")
    assert answer["budget_usd"] == "0.01" and answer["over_budget"] is True
    assert answer["share_spent"] == pytest.approx(float(spent / Decimal("0.01")))
    refused = client.get("/api/v1/budget", headers=member.headers)
    assert refused.status_code == 403


def test_without_a_budget_the_api_still_gives_the_months_cost(client, db, org, spending):
    admin, _ = spending
    answer = client.get("/api/v1/budget", headers=admin.headers).get_json()

    assert answer["budget_usd"] is None and answer["share_spent"] is None
    assert answer["over_budget"] is False and Decimal(answer["spent_usd"]) > 0


def test_the_overview_shows_admins_the_month_against_the_budget(app, client, db, org, spending):
    admin, _ = spending
    set_budget(db, org, "100000")
    sign_in(client, org, "admin@example.com")
    page = client.get("/").text
    answer = client.get("/api/v1/budget", headers=admin.headers).get_json()
    member = app.test_client()
    sign_in(member, org, "dev@example.com")

    shown = dict(re.findall(r'data-metric="(month_\w+)" data-value="([^"]*)"', page))
    assert Decimal(shown["month_spent_usd"]) == Decimal(answer["spent_usd"]) > 0
    assert 'data-testid="budget"' in page and "$100,000.00" in page
    assert "Over budget" not in page
    assert 'data-testid="budget"' not in member.get("/").text
    assert 'data-testid="budget"' not in client.get("/?attr:department=platform").text
    set_budget(db, org, "0.01")
    assert "Over budget: this month has cost more than its budget." in client.get("/").text
    set_budget(db, org, None)
    assert 'data-testid="budget"' not in client.get("/").text


def test_an_admin_sets_and_removes_the_budget_on_the_settings_page(client, db, org, spending):
    sign_in(client, org, "admin@example.com")

    def post(value: str):
        page = client.get("/admin/settings").text
        return client.post("/admin/settings/budget", data={
            "csrf_token": csrf_of(page), "monthly_budget_usd": value})

    saved = post("1,250.50")
    said = client.get(saved.headers["Location"]).text
    refused = post("lots")
    kept = orgs.find_org(db, org.org.slug).monthly_budget_usd
    again = post("1250.50")         # the same budget: nothing to record
    removed = post("")

    assert saved.status_code == 302
    assert "the monthly budget is $1,250.50 a month" in said
    assert refused.status_code == 400 and "amount of US dollars" in html.unescape(refused.text)
    assert 'value="lots"' in refused.text and 'aria-invalid="true"' in refused.text
    assert again.status_code == 302
    assert kept == Decimal("1250.50")
    assert removed.status_code == 302 and orgs.find_org(db, org.org.slug).monthly_budget_usd is None
    details = [row[0] for row in db.execute(
        "SELECT details FROM audit_log WHERE org_id = %s AND action = 'org.update'"
        " ORDER BY audit_id", (org.org.org_id,))]
    assert details == [{"monthly_budget_usd": [None, "1250.50"]},
                       {"monthly_budget_usd": ["1250.50", None]}]


def test_the_cli_sets_and_removes_the_budget(db, org, app_database_url, master_key):
    env = {"MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key}

    def run(*args):
        return CliRunner().invoke(cli, ["org", "set", org.org.slug, *args], env=env)

    set_ = run("--monthly-budget", "5000")
    budget = orgs.find_org(db, org.org.slug).monthly_budget_usd
    refused = run("--monthly-budget", "-5")
    cleared = run("--monthly-budget", "none")

    assert set_.exit_code == 0 and "monthly budget $5,000.00 a month" in set_.stderr
    assert budget == Decimal("5000.00")
    assert refused.exit_code == 2 and "--monthly-budget" in refused.output
    assert cleared.exit_code == 0 and orgs.find_org(db, org.org.slug).monthly_budget_usd is None
    details = [row[0] for row in db.execute(
        "SELECT details FROM audit_log WHERE org_id = %s AND action = 'org.update'"
        " ORDER BY audit_id", (org.org.org_id,))]
    assert [item.get("monthly_budget_usd") for item in details] == [
        [None, "5000.00"], ["5000.00", None]]


@pytest.mark.parametrize("day, hours, paced", [(1, 1, False), (3, 23, False), (16, 0, True),
                                               (30, 23, True)])
def test_the_pace_waits_for_a_tenth_of_the_month_and_is_exact(client, db, org, day, hours,
                                                              paced):
    ingest_session(client, org, "bash-tool")       # 2026-11-26, in November 2026
    as_of = datetime(2026, 11, day, hours, tzinfo=UTC)
    month = month_to_date(db, orgs.find_org(db, org.org.slug), as_of)
    (spent,) = analytics.usage(db, org.org.org_id, month.start, as_of)

    assert (month.start, month.end) == (datetime(2026, 11, 1, tzinfo=UTC),
                                        datetime(2026, 12, 1, tzinfo=UTC))
    assert month.spent_usd == spent["cost_usd"]
    if not paced:
        assert month.forecast_usd is None and not month.on_pace_over
    else:
        share = Fraction((as_of - month.start) // timedelta(microseconds=1),
                         (month.end - month.start) // timedelta(microseconds=1))
        assert month.forecast_usd == (month.spent_usd / Decimal(share.numerator)
                                      * Decimal(share.denominator)).quantize(Decimal("0.000001"))
    if day == 16:       # halfway through a 30-day month: twice what was spent
        assert month.forecast_usd == 2 * month.spent_usd


def test_a_change_records_the_budget_it_replaced_even_when_another_came_first(db, org):
    stale = org.org                                  # read before anyone set a budget
    orgs.set_monthly_budget(db, stale, Decimal(100))

    after, replaced = orgs.set_monthly_budget(db, stale, Decimal(200))

    assert replaced == Decimal("100.00") and after.monthly_budget_usd == Decimal("200.00")


def budget_check(app_database_url, master_key, *args):
    return CliRunner().invoke(cli, ["budget", "check", *args], env={
        "MOJULE_DATABASE_URL": app_database_url, "MOJULE_MASTER_KEY": master_key})


@pytest.fixture
def early_in_the_month(client, db, org):
    """The bash-tool session moved to 2026-11-04 and what its month stands at an hour
    later, past the tenth of the month the pace waits for."""
    for signal in ("logs", "metrics"):
        moved = json.dumps(shifted(json.loads(fixture_bytes("bash-tool", signal)),
                                   -22 * 86400 * 10**9))
        assert client.post(f"/v1/{signal}", data=moved, headers=org.headers).status_code == 202
    as_of = datetime(2026, 11, 4, 13, tzinfo=UTC)
    return as_of, month_to_date(db, orgs.find_org(db, org.org.slug), as_of)


def test_budget_check_exits_3_for_an_org_over_its_budget(db, org, early_in_the_month,
                                                         app_database_url, master_key):
    as_of, month = early_in_the_month
    assert month.spent_usd > Decimal("0.01")
    orgs.set_monthly_budget(db, org.org, Decimal("0.01"))
    check = ("--org", org.org.slug, "--as-of", as_of.isoformat())

    over = budget_check(app_database_url, master_key, *check)
    never = budget_check(app_database_url, master_key, *check, "--fail-on", "never")

    assert over.exit_code == 3, over.output
    (line,) = [line for line in over.stdout.splitlines() if line.startswith(org.org.slug)]
    assert line.split()[1:5] == ["2026-11", f"${month.spent_usd:,.2f}", "$0.01",
                                 f"{month.spent_usd / Decimal('0.01'):.0%}"]
    assert line.endswith("over")
    assert f"1 org(s) over their monthly budget: {org.org.slug}" in over.stderr
    assert never.exit_code == 0 and never.stdout == over.stdout


def test_budget_check_warns_of_an_org_on_pace_to_go_over_when_asked(
        db, org, early_in_the_month, app_database_url, master_key):
    as_of, month = early_in_the_month
    # Above what was spent, below the month's pace.
    budget = month.spent_usd.quantize(Decimal("0.01"), rounding="ROUND_UP") + Decimal("0.01")
    assert month.spent_usd < budget < month.forecast_usd
    orgs.set_monthly_budget(db, org.org, budget)
    check = ("--org", org.org.slug, "--as-of", as_of.isoformat())

    default = budget_check(app_database_url, master_key, *check)
    paced = budget_check(app_database_url, master_key, *check, "--fail-on", "pace")
    as_json = budget_check(app_database_url, master_key, *check, "--json")

    assert default.exit_code == 0 and default.stdout.rstrip().endswith("on pace to be over")
    assert paced.exit_code == 3 and "on pace to be over" in paced.stderr
    (line,) = as_json.stdout.splitlines()
    answer = json.loads(line)
    assert (answer["org"], answer["state"], answer["on_pace_over_budget"],
            answer["over_budget"]) == (
        org.org.slug, "on pace to be over", True, False)
    assert Decimal(answer["spent_usd"]) == month.spent_usd
    assert Decimal(answer["forecast_usd"]) == month.forecast_usd
    assert Decimal(answer["budget_usd"]) == budget


def test_budget_check_lists_the_orgs_with_a_budget(db, org, other_org, early_in_the_month,
                                                   app_database_url, master_key):
    as_of, _ = early_in_the_month
    orgs.set_monthly_budget(db, org.org, Decimal(1000))
    listed = budget_check(app_database_url, master_key, "--as-of", as_of.isoformat())
    unknown = budget_check(app_database_url, master_key, "--org", "no-such-org")

    # Other tests' orgs share the database; this one's line is "within", the other's absent.
    slugs = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert slugs[org.org.slug].endswith("within")
    assert other_org.org.slug not in slugs
    assert unknown.exit_code == 1 and "no org with slug 'no-such-org'" in unknown.output
