"""Signing in to the dashboard with org, email and password, and signing out.

A failed sign-in says only that the org, email or password is wrong, and takes as long
whichever it was. Failures are counted per email and address (``logins``); past a limit
the form answers 429 without checking the password. A browser that signed in before is
remembered (``devices``), so that others' failures do not lock its owner out.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import g, redirect, render_template, request, session

from mojule import audit, orgs, people
from mojule.api import request_entry
from mojule.audit import INSTALLATION_ORG
from mojule.auth import UserCredential, public, session_credential, signed_in
from mojule.dashboard import devices, logins, reauth
from mojule.dashboard.web import page_blueprint, safe_next, valid_tz
from mojule.db import get_connection, org_transaction
from mojule.request_log import client_address

log = logging.getLogger("mojule.dashboard")
bp = page_blueprint("signin")
WRONG = "The org, email or password is wrong."
MAX_LOGGED = 254        # characters of a typed email or org logged: an address's limit


@bp.get("/sign-in")
@public
def sign_in_form():
    """The sign-in form; a signed-in user goes straight on."""
    target = safe_next(request.args.get("next"))
    if session_credential() is not None:
        return redirect(target)
    return render_template("signin.html", next=target, org=request.args.get("org", ""),
                           signed_out="signed_out" in request.args)


@bp.post("/sign-in")
@public
def sign_in():
    """Check org, email and password; start a session and go on to ``next``."""
    form = request.form
    slug, email = form.get("org", "").strip().lower(), form.get("email", "")
    password, target = form.get("password", ""), safe_next(form.get("next"))
    conn = get_connection()
    address = client_address()
    try:
        email = people.normalise_email(email)
    except people.InvalidEmail:
        # What was typed may be a password in the wrong field: it is not logged.
        return _refused(slug, None, target)
    try:
        org = orgs.find_org(conn, slug)
    except orgs.OrgNotFound:
        org = None
    known_device = org is not None and devices.is_known(org.org_id, email)
    until = None if known_device else logins.address_locked_until(conn, address)
    if until is not None:
        return _throttled(slug, email, target, until)
    if org is None:
        return _unknown_org(conn, slug, email, password, target, address)
    with logins.attempt(conn, org.org_id, email):
        until = logins.locked_until(conn, org.org_id, email, address, known_device)
        if until is not None:
            return _throttled(slug, email, target, until)
        user = people.check_password(conn, org.org_id, email, password)
        if user is None:
            logins.record_failure(conn, org.org_id, email, address)
            _audit_failure(conn, org.org_id, email, logins.locked_until(
                conn, org.org_id, email, address, known_device))
        else:
            logins.clear_failures(conn, org.org_id, email, address)
    if user is None:
        logins.record_address_failure(conn, address)
        return _refused(slug, email, target)
    start_session(conn, org, user, form.get("tz", ""))
    if not user.is_admin and target.startswith("/admin"):
        target = "/"    # a shared admin link: a member would land on a 403 page
    return devices.remember(redirect(target), org.org_id, email)


def _unknown_org(conn, slug: str, email: str, password: str, target: str, address: str):
    """Refuse a sign-in to an org that does not exist as a real org's wrong password is
    refused: after the same password hashing (the time taken does not tell), and locked
    after as many failures (migration 0018: counted under the installation's org 0, per
    org name and email)."""
    if not orgs.SLUG_PATTERN.fullmatch(slug):
        # No org has such a name, so refusing it tells nothing; and counted, "a/b" with
        # "c@d" would share the count of "a" with "b/c@d".
        people.check_password(conn, INSTALLATION_ORG, email, password)
        logins.record_address_failure(conn, address)
        return _refused(slug, email, target)
    key = f"{slug}/{email}"
    with logins.attempt(conn, INSTALLATION_ORG, key):
        until = logins.locked_until(conn, INSTALLATION_ORG, key, address)
        if until is not None:
            return _throttled(slug, email, target, until)
        people.check_password(conn, INSTALLATION_ORG, email, password)
        logins.record_failure(conn, INSTALLATION_ORG, key, address)
    logins.record_address_failure(conn, address)
    return _refused(slug, email, target)


@bp.post("/sign-out")
@signed_in
def sign_out():
    """End the session and forget the cookie."""
    user = g.user
    conn = get_connection()
    logins.end_session(conn, user.org_id, session["sid"])
    with org_transaction(conn, user.org_id):
        audit.record(conn, user.org_id, request_entry("dashboard.sign_out", "ok",
                                                      target_type="user", target_id=user.email))
    slug = session.get("org_slug", "")
    session.clear()
    return redirect(f"/sign-in?{urlencode({'signed_out': 1, 'org': slug})}")


def start_session(conn, org: orgs.Org, user: people.User, tz: str) -> None:
    """Sign ``user`` in in this browser: a new server-side session, audited."""
    session_id = logins.start_session(conn, org.org_id, user.user_id)
    # A new cookie from scratch: nothing from before sign-in (the CSRF token included) stays.
    session.clear()
    session.update(org_id=org.org_id, org_slug=org.slug, sid=session_id,
                   tz=tz if valid_tz(tz) else "UTC")
    reauth.password_typed()         # a password (or a password link) was just used
    g.user = UserCredential(org.org_id, user.user_id, None, user.email, user.role)
    with org_transaction(conn, org.org_id):
        audit.record(conn, org.org_id, request_entry("dashboard.sign_in", "ok",
                                                     target_type="user", target_id=user.email))


def _throttled(slug: str, email: str, target: str, until: datetime):
    minutes = logins.minutes_until(until)
    log.info("sign-in throttled for %s of org %s from %s", email, slug, client_address())
    error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    return render_template("signin.html", next=target, org=slug, email=email, error=error), \
        429, {"Retry-After": str(minutes * 60)}


def _refused(slug: str, email: str | None, target: str):
    """Answer 401; ``email`` None: the email field held no address (nor is it logged)."""
    log.info("sign-in refused for %s of org %r from %s",
             "a field that is no email" if email is None else repr(email[:MAX_LOGGED]),
             slug[:MAX_LOGGED], client_address())
    return render_template("signin.html", next=target, org=slug, email=email or "",
                           error=WRONG), 401


def _audit_failure(conn, org_id: int, email: str, locked_until: datetime | None) -> None:
    # Wrong passwords for real users are audited; made-up emails only reach the log. The
    # failure that locks the account says until when: the refusals while it is locked are
    # not audited (a guesser could flood the trail), so this row is where a lock shows.
    try:
        user = people.find_user(conn, org_id, email)
    except people.UserNotFound:
        return
    g.user = UserCredential(org_id, user.user_id, None, user.email, user.role)
    try:
        with org_transaction(conn, org_id):
            audit.record(conn, org_id, request_entry(
                "dashboard.sign_in", "denied", target_type="user", target_id=email,
                reason="wrong password" if locked_until is None else
                       f"wrong password; sign-in locked until "
                       f"{locked_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
                details={} if locked_until is None else
                        {"locked_until": locked_until.isoformat(timespec="seconds")}))
    finally:
        # request_entry names the actor from g.user; the page answered is a signed-out
        # one, which must not show whose account this is (its header would, and its role).
        g.pop("user", None)
