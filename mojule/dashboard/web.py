"""What every dashboard page shares: its blueprint, CSRF, headers, error pages, and the date
range and time zone of the viewer.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    get_flashed_messages,
    make_response,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from mojule import analytics, orgs
from mojule.accounting import ATTR_PREFIX, Scope
from mojule.analytics import YEARS, BadParameter
from mojule.api import params, viewer_seats
from mojule.api.params import WHOLE_NUMBER
from mojule.auth import public
from mojule.dashboard import formats
from mojule.dashboard.ingestion import ingestion_state
from mojule.db import get_connection, org_transaction, query
from mojule.errors import (
    BadRequest,
    Forbidden,
    MojuleError,
    NotFound,
    http_error_response,
)

log = logging.getLogger("mojule.dashboard")

CSRF_FIELD = "csrf_token"
DEFAULT_DAYS = 30
# The longest period a page shows: its charts have a point per day (the exports and the
# read API take any window).
MAX_DAYS = 5 * 366
# Pages load only what this server serves: no CDN, no inline script, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages can show content and tokens: never keep them in a cache.
    "Cache-Control": "no-store",
}


class CsrfFailed(MojuleError):
    """This form has expired or was not sent from this site; reload the page and try again."""

    status, error = 400, "csrf_failed"


def page_blueprint(name: str) -> Blueprint:
    """Return a blueprint for dashboard pages: CSRF-checked forms, security headers, HTML
    error pages."""
    blueprint = Blueprint(name, __name__)
    blueprint.before_request(check_csrf)
    blueprint.after_request(_security_headers)
    blueprint.register_error_handler(MojuleError, _error_page)
    blueprint.register_error_handler(BadParameter, _bad_parameter_page)
    blueprint.register_error_handler(HTTPException, _http_error_page)
    return blueprint


class DashboardSessionInterface(SecureCookieSessionInterface):
    """The signed session cookie, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request_is_https()


def request_is_https() -> bool:
    """Return True when the browser's request came over HTTPS.

    Either the WSGI server saw TLS (or gunicorn believed its ``forwarded_allow_ips``
    proxy), or the peer is a proxy in MOJULE_TRUSTED_PROXIES that says so in
    X-Forwarded-Proto. The header from anyone else is ignored.
    """
    if request.scheme == "https":
        return True
    try:
        peer = ipaddress.ip_address(request.environ.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if not any(peer in network for network in current_app.config["MOJULE"]["TRUSTED_PROXIES"]):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0]
    return proto.strip().lower() == "https"


def csrf_token() -> str:
    """Return this browser session's CSRF token, making one on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse a form whose CSRF token is missing or is not this session's. Raises CsrfFailed."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        log.info("CSRF token %s on %s %s", "wrong" if given else "missing",
                 request.method, request.path)
        raise CsrfFailed()


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _error_page(exc: MojuleError):
    return render_template("error.html", status=exc.status, message=exc.message), exc.status


def _bad_parameter_page(exc: BadParameter):
    return _error_page(BadRequest(f"{exc}."))


def _http_error_page(exc: HTTPException):
    status = exc.code or 500
    return render_template("error.html", status=status, message=exc.description), status


def unrouted_page(exc: HTTPException):
    """An address no route has (404), or a method its route does not take (405): a
    browser gets a page it can leave by a link, and anything else (an exporter, a script,
    the API under /api and /v1) the JSON error of every other answer."""
    wants_page = request.accept_mimetypes.best_match(
        ["application/json", "text/html"]) == "text/html"
    if not wants_page or request.path.startswith(("/api/", "/v1/")):
        return http_error_response(exc)
    return _security_headers(make_response(_http_error_page(exc)))


def external_url(endpoint: str, **values: Any) -> str:
    """The full address of a page, to send to someone: https when the browser's request
    came over HTTPS, though behind a proxy the WSGI server saw http."""
    return url_for(endpoint, _external=True,
                   _scheme="https" if request_is_https() else request.scheme, **values)


def safe_next(target: str | None) -> str:
    """Return ``target`` when it is a path on this site, else the overview.

    Browsers drop tabs and line breaks from a Location and read a backslash as a slash,
    so ``/<tab>/evil.example`` leads off the site as ``//evil.example`` does: a target
    with any control character, space or backslash is refused, not cleaned.
    """
    if (not target or not target.startswith("/") or target.startswith("//")
            or any(char <= " " or char in "\\\x7f" for char in target)
            or urlsplit(target).netloc):
        return "/"
    if target.startswith("/sign-in"):
        return "/"
    return target.removesuffix("?")


def confirmation() -> str | None:
    """What the form that redirected here did (``flask.flash``). It travels in the signed
    session cookie, not the address: a link cannot make a page confirm what someone
    wrote."""
    return " ".join(get_flashed_messages()) or None


def days_from_now(text: str, field: str, allowed: tuple[int, ...],
                  allow_never: bool = True) -> datetime | None:
    """The moment ``text`` days from now, for a form's lifetime choice ("" or "never":
    None, where allowed); BadRequest for anything not offered."""
    text = text.strip()
    if allow_never and text in ("", "never"):
        return None
    if not WHOLE_NUMBER.fullmatch(text) or int(text) not in allowed:
        raise BadRequest(f"{field} must be one of {', '.join(map(str, allowed))} days.")
    return datetime.now(UTC) + timedelta(days=int(text))


def require_admin() -> None:
    """Raise Forbidden unless the signed-in user is an admin of their org."""
    if not g.user.is_admin:
        raise Forbidden("Only org admins can open this page.")


def viewer_last_seen() -> datetime | None:
    """When the viewer's sessions (an admin: the org's) were last seen, or None."""
    conn = get_connection()
    scope = Scope(seats=viewer_seats(conn))
    with org_transaction(conn, g.user.org_id):
        return conn.execute(query("dashboard_last_seen"), scope.params(g.user.org_id)
                            ).fetchone()[0]


def viewer_org() -> orgs.Org:
    """Return the signed-in user's org (its slug is in the session cookie)."""
    org = orgs.find_org(get_connection(), session["org_slug"])
    if org.org_id != g.user.org_id:
        raise NotFound("This org no longer exists.")
    return org


def viewer_tz() -> str:
    """Return the viewer's IANA time zone, as their browser told it at sign-in (else UTC)."""
    name = session.get("tz")
    return name if valid_tz(name) else "UTC"


def valid_tz(name: object) -> bool:
    """Return True when ``name`` is a time zone reports can use (a non-text one is not)."""
    return analytics.time_zone_problem(name) is None


@dataclass(frozen=True)
class Period:
    """Whole days from ``first`` to ``last`` (inclusive) in the viewer's time zone, and
    the team a page keeps to: the sessions whose resource attributes have these values
    (``attr:<key>=<value>``, as the read API takes them). Links that keep the period keep
    the team too."""

    first: date
    last: date
    tz: str
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), ZoneInfo(self.tz))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), ZoneInfo(self.tz))

    def days(self) -> list[str]:
        """Return every day of the period as YYYY-MM-DD (the keys of a usage by day)."""
        return [(self.first + timedelta(days=n)).isoformat()
                for n in range((self.last - self.first).days + 1)]

    def previous(self) -> Period | None:
        """The period of as many days just before this one, or None before 1970."""
        length = self.last - self.first + timedelta(days=1)
        if self.first - length < date(YEARS.start, 1, 1):
            return None
        return replace(self, first=self.first - length, last=self.first - timedelta(days=1))

    def team(self) -> dict[str, str]:
        """Return the team's query parameters (attr:<key>: value)."""
        return {f"{ATTR_PREFIX}{key}": value for key, value in self.attributes}

    def page_args(self) -> dict[str, str]:
        """Return the query parameters that keep this period on another page."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), **self.team()}

    def api_args(self) -> dict[str, str]:
        """Return the read API's parameters for the same window ([from, to) in tz)."""
        return {"from": self.first.isoformat(),
                "to": (self.last + timedelta(days=1)).isoformat(), "tz": self.tz,
                **self.team()}


def period(team: bool = False) -> Period:
    """Return the page's period from ``from`` and ``to`` (dates), by default the last 30
    days, and, on a page that keeps to one (``team``), its team from ``attr:<key>``
    parameters; other pages neither read nor pass one on.

    Raises BadRequest naming the parameter.
    """
    tz = viewer_tz()
    today = datetime.now(ZoneInfo(tz)).date()
    last = _date_arg("to") or today
    first = _date_arg("from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise BadRequest("'to' must not be before 'from'.")
    if (last - first).days >= MAX_DAYS:
        raise BadRequest(f"A page shows at most {MAX_DAYS:,} days, 'from' to 'to'; the "
                         "exports take any period.")
    return Period(first, last, tz,
                  analytics.check_attributes(params.attributes()) if team else ())


def _date_arg(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name!r} must be a date such as 2026-11-01.") from None
    if parsed.year not in YEARS:
        raise BadRequest(f"{name!r} must be a date between the years {YEARS.start} and "
                         f"{YEARS.stop - 1}.")
    return parsed


def page_url(**changes: Any) -> str:
    """Return this page's URL with some query parameters changed (None removes one)."""
    args = {**request.args.to_dict(), **changes}
    kept = {name: value for name, value in args.items() if value not in (None, "")}
    # Not through url_for's keywords: a parameter named endpoint or _external would be
    # taken for one of url_for's own arguments.
    path = url_for(request.endpoint, **(request.view_args or {}))
    return f"{path}?{urlencode(kept, safe=':')}" if kept else path


def recent_days(days: int) -> dict[str, str]:
    """Return the ``from`` and ``to`` of the last ``days`` days, today included."""
    today = datetime.now(ZoneInfo(viewer_tz())).date()
    return {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}


def attribute_keys(span: Period) -> list[str]:
    """Return the resource attribute keys (OTEL_RESOURCE_ATTRIBUTES) the viewer's sessions
    (a whole-org viewer: the org's) carried in the period, standard ones left out."""
    conn = get_connection()
    scope = Scope(span.start, span.end, viewer_seats(conn))
    with org_transaction(conn, g.user.org_id):
        keys = [row[0] for row in conn.execute(query("dashboard_attribute_keys"),
                                               scope.params(g.user.org_id))]
    return [key for key in keys if analytics.ATTR_KEY.fullmatch(key)]


def export_url(path: str, **args: Any) -> str:
    """Return an export endpoint's URL with the given parameters (empty ones left out)."""
    return f"{path}?{urlencode({name: value for name, value in args.items() if value})}"


def init_templates(app: Flask) -> None:
    """Register the templates' globals and filters, and serve /static without a credential."""
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=CSRF_FIELD,
                                 page_url=page_url, recent_days=recent_days)
    app.jinja_env.filters.update(usd=formats.usd, usd_exact=formats.usd_exact,
                                 number=formats.number, percent=formats.percent,
                                 duration=formats.duration, utc_text=formats.utc_text,
                                 audit_details=formats.audit_details,
                                 pickable_team=analytics.attribute_value_ok)
    app.context_processor(_page_context)

    @public
    def static(filename: str):
        # The stylesheet, script and chart library; the sign-in page needs them too.
        return current_app.send_static_file(filename)

    app.view_functions["static"] = static


def _page_context() -> dict[str, Any]:
    user = g.get("user")
    return {"viewer": user, "viewer_tz": viewer_tz(),
            "ingestion": ingestion_state() if user is not None else None}
