"""Typing one's password again before an admin's changes (GitHub's "sudo mode").

An admin's session left open on a shared screen must not let whoever sits down add an
admin, set a member's password, make a password link, remove people or make ingest
tokens. Such a form first asks the admin for their password, unless they typed it (to
sign in, or here) within the last RECENT minutes. The form's own fields travel with the
password, so a right one goes straight on to the change asked for; the check runs under
the sign-in throttle (``logins``), so the page cannot be used to guess the password.

When the password was last typed is kept in the signed session cookie: it cannot be
forged, and a new sign-in starts it afresh.
"""
from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import g, render_template, request, session, url_for

from mojule import audit, people
from mojule.api import request_entry
from mojule.dashboard import logins
from mojule.dashboard.web import CSRF_FIELD, safe_next
from mojule.db import get_connection, org_transaction
from mojule.request_log import client_address

RECENT = timedelta(minutes=15)
PASSWORD_FIELD = "reauth_password"
_TYPED_AT = "password_typed_at"      # the session cookie's key: Unix seconds


class PasswordRefused(Exception):
    """The password given is wrong (400), or the throttle holds (429); ``message`` says
    which, for the person."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def password_typed() -> None:
    """Note that the signed-in person has just typed their password."""
    session[_TYPED_AT] = int(time.time())


def typed_recently() -> bool:
    """Return True when the signed-in person typed their password within RECENT."""
    typed_at = session.get(_TYPED_AT)
    return isinstance(typed_at, int) and 0 <= time.time() - typed_at < RECENT.total_seconds()


def confirm_password(password: str, wrong: str = "The password is wrong.") -> people.User:
    """The signed-in person, once ``password`` is theirs, checked under the sign-in
    throttle. Raises PasswordRefused saying why (``wrong`` for a wrong password), and with
    what status."""
    user, conn, address = g.user, get_connection(), client_address()
    until = checked = None
    # The refusal is raised once the attempt's transaction committed the failure.
    with logins.attempt(conn, user.org_id, user.email):
        # A browser signed in as this person is a known one (``devices``): failures a
        # stranger sets off elsewhere do not lock its owner out; its address's do.
        until = logins.locked_until(conn, user.org_id, user.email, address, known_device=True)
        if until is None:
            checked = people.check_password(conn, user.org_id, user.email, password)
            if checked is None:
                logins.record_failure(conn, user.org_id, user.email, address)
            else:
                # As a sign-in does: earlier typos no longer count towards a lock.
                logins.clear_failures(conn, user.org_id, user.email, address)
    if until is not None:
        minutes = logins.minutes_until(until)
        raise PasswordRefused(f"Too many wrong passwords. Try again in {minutes} "
                              f"minute{'s' if minutes != 1 else ''}.", 429)
    if checked is None:
        raise PasswordRefused(wrong, 400)
    password_typed()
    return checked


def ask_unless_typed_recently():
    """Let a change go on when the password was typed recently or comes with the form;
    otherwise return the page that asks for it (403), or says why it was refused.

    A blueprint's ``before_request`` hook, or called first in a view (after its own
    permission check, so that no one is asked a password for what they may not do).
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or typed_recently():
        return None
    password = request.form.get(PASSWORD_FIELD)
    if password is None:
        return _ask(None), 403
    try:
        confirm_password(password)
    except PasswordRefused as refused:
        # A refusal while the lock holds checks no password and is not audited, as at
        # sign-in: the wrong passwords that set the lock off are, and say so.
        if refused.status == 400:
            _audit("denied", "wrong password")
        return _ask(refused.message), refused.status
    _audit("ok", None)
    return None


def _audit(outcome: str, reason: str | None) -> None:
    conn, user = get_connection(), g.user
    with org_transaction(conn, user.org_id):
        audit.record(conn, user.org_id, request_entry(
            "dashboard.confirm_password", outcome, target_type="user", target_id=user.email,
            reason=reason, details={"for": request.path}))


def _ask(error: str | None):
    """The page that asks for the password, carrying the form's fields on."""
    carried = [(name, value) for name, value in request.form.items(multi=True)
               if name not in (CSRF_FIELD, PASSWORD_FIELD)]
    return render_template("reauth.html", error=error, fields=carried,
                           action=url_for(request.endpoint, **(request.view_args or {})),
                           back=_back(), minutes=int(RECENT.total_seconds() // 60),
                           password_field=PASSWORD_FIELD)


def _back() -> str:
    """The page the form was on (this site's own address from Referer), else the overview."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return url_for("overview.overview")
    back = safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
    return url_for("overview.overview") if back == "/" else back
