"""Query parameters of the read API: dates, windows, groups and paging, checked by name.

Every bad parameter is a 400 whose message names it, so a caller knows what to fix.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import request

from mojule import analytics, usage
from mojule.accounting import ATTR_PREFIX
from mojule.analytics import YEARS
from mojule.errors import BadRequest

DEFAULT_DAYS = 30
ATTRIBUTE_FILTERS = f"{ATTR_PREFIX}<key>"      # in takes(): every attr:<key>=<value> filter
# What to say of a parameter an endpoint does not take but a caller may well expect it to.
INSTEAD = {"model": "for one model's figures, group by model (group_by=model)"}
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def takes(*names: str) -> Callable[[Callable], Callable]:
    """Make a view refuse (400) any query parameter but ``names``, so that a typo (``usr=``)
    or a filter the endpoint does not apply cannot pass unnoticed for the whole org's
    figures. ``ATTRIBUTE_FILTERS`` among them admits every ``attr:<key>``."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args, **kwargs):
            for name in request.args:
                if name not in names and not (ATTRIBUTE_FILTERS in names
                                              and name.startswith(ATTR_PREFIX)):
                    raise BadRequest(_unknown(name, names))
            return view(*args, **kwargs)
        return checked
    return decorate


def _unknown(name: str, names: tuple[str, ...]) -> str:
    message = f"Unknown parameter {name[:40]!r}: "
    message += f"this endpoint takes {', '.join(names)}" if names else "this endpoint takes none"
    if name in INSTEAD and "group_by" in names:
        message += f"; {INSTEAD[name]}"
    return message + "."


def time_zone() -> str:
    """Return the ``tz`` parameter (default UTC). Raises BadRequest for an unknown zone."""
    name = request.args.get("tz", "UTC")
    problem = analytics.time_zone_problem(name)
    if problem:
        raise BadRequest(f"Parameter 'tz': {problem}.")
    return name


def filter_text(name: str) -> str | None:
    """Return a filter's text (``user``, ``model``; the dashboard's ``actor``, ...), or
    None for none: an empty one, as in ``?user=`` or a form's blank field, filters
    nothing, as a missing one does."""
    return request.args.get(name, "").strip() or None


def moment(name: str, tz: str | None) -> datetime | None:
    """Return a date or date-time parameter as an aware datetime.

    A date, or a date-time without a zone, is read in ``tz`` (a date at its midnight);
    with ``tz`` None the parameter must carry its own zone. Raises BadRequest naming it.
    """
    text = request.args.get(name)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"Parameter {name!r}: {text!r} is not an ISO 8601 date "
                         "(2026-11-01) or date and time (2026-11-01T09:00:00Z).") from None
    if parsed.year not in YEARS:
        raise BadRequest(f"Parameter {name!r}: {text!r} is not between the years "
                         f"{YEARS.start} and {YEARS.stop - 1}.")
    if parsed.tzinfo:
        return parsed
    if tz is None:
        raise BadRequest(f"Parameter {name!r} needs a time zone (e.g. 2026-11-01T00:00:00Z).")
    return parsed.replace(tzinfo=ZoneInfo(tz))


def day(name: str) -> date:
    """Return a required day parameter (YYYY-MM-DD). Raises BadRequest naming it."""
    text = request.args.get(name)
    if not text:
        raise BadRequest(f"Parameter {name!r} is required: a day, as 2026-11-01.")
    # fromisoformat alone would also take 20261101 and 2026-W44-7.
    try:
        if not DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"Parameter {name!r}: {text!r} is not a day (2026-11-01).") from None


def window(tz: str) -> tuple[datetime, datetime]:
    """Return [from, to): by default the last 30 days. Raises BadRequest naming the parameter."""
    end = moment("to", tz) or datetime.now(ZoneInfo(tz))
    start = moment("from", tz) or end - timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise BadRequest("Parameter 'to' must be after 'from'.")
    return start, end


def group_by() -> list[str]:
    """Return the ``group_by`` groups, repeated (?group_by=day&group_by=model) or comma-separated."""
    return listed("group_by")


def attributes() -> dict[str, str]:
    """Return the resource attribute filters, ``attr:<key>=<value>`` (?attr:team=payments),
    checked now, so an export refuses them before its download starts. A blank value
    filters nothing, as a blank ``user`` does. Raises BadParameter (400) naming one."""
    wanted = {}
    for name in request.args:
        if name.startswith(ATTR_PREFIX):
            values = request.args.getlist(name)
            if len(values) > 1:
                raise BadRequest(f"Parameter {name[:140]!r} is given more than once.")
            # As sent: a team named " ops" is not "ops". Blank is no filter.
            if values[0].strip():
                wanted[name.removeprefix(ATTR_PREFIX)] = values[0]
    analytics.check_attributes(wanted)
    return wanted


def listed(name: str) -> list[str]:
    """Return a parameter's values, repeated (?event=a&event=b) or comma-separated."""
    return analytics.listed(request.args.getlist(name))


def attribute_columns() -> list[str]:
    """Return the resource attribute keys an export adds columns for, ``attribute``
    (repeated or comma-separated). Raises BadParameter (400) naming it."""
    return analytics.check_attribute_keys(listed("attribute"))


def flag(name: str) -> bool:
    """Return a yes/no parameter (true/false, 1/0, yes/no; absent: false). Raises
    BadRequest naming it for anything else."""
    text = request.args.get(name)
    if text is None:
        return False
    # Read as ingest reads a boolean attribute sent as text.
    value = usage.boolean(text)
    if value is None:
        raise BadRequest(f"Parameter {name!r} must be true or false, not {text!r}.")
    return value


def choice(name: str, choices: tuple[str, ...]) -> str:
    """Return a parameter that names one of ``choices`` (absent or blank: the first).
    Raises BadRequest listing them."""
    text = request.args.get(name, "").strip()
    if not text:
        return choices[0]
    if text not in choices:
        raise BadRequest(f"Parameter {name!r} must be one of {', '.join(choices)}, "
                         f"not {text[:100]!r}.")
    return text


def whole_number(name: str, default: int, lowest: int, highest: int | None = None) -> int:
    """Return a whole-number parameter. Raises BadRequest when it is outside lowest..highest."""
    text = request.args.get(name)
    if text is None:
        return default
    # ASCII digits only: str.isdigit() takes "²", which int() refuses.
    if not WHOLE_NUMBER.fullmatch(text) or int(text) < lowest or (
            highest is not None and int(text) > highest):
        bound = f"to {highest}" if highest is not None else "up"
        raise BadRequest(f"Parameter {name!r} must be a whole number from {lowest} {bound}.")
    return int(text)


def limit(default: int = 50, highest: int = 500) -> int:
    """Return the ``limit`` parameter. Raises BadRequest when it is not 1..highest."""
    return whole_number("limit", default, 1, highest)
