"""Your account: who you are signed in as, and changing your own dashboard password.

Changing it asks for the current password, under the sign-in throttle (``logins``): a
session left open on someone else's screen must not become a way to guess it. The new
password ends every other session of the account (``dashboard_session_resolve.sql``
compares the password), and this browser's session starts again.
"""
from __future__ import annotations

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from mojule import audit, people
from mojule.api import request_entry
from mojule.auth import signed_in
from mojule.dashboard import logins
from mojule.dashboard.web import confirmation, page_blueprint
from mojule.db import get_connection, org_transaction
from mojule.request_log import client_address

bp = page_blueprint("account")


@bp.get("/account")
@signed_in
def account():
    """The signed-in person's account and the form to change their password."""
    return _page(done=confirmation())


@bp.post("/account/password")
@signed_in
def change_password():
    """Change one's own password, given the current one."""
    form, user, conn = request.form, g.user, get_connection()
    current, new = form.get("current_password", ""), form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        return _page(error="The new password and its confirmation differ."), 400
    address = client_address()
    with logins.attempt(conn, user.org_id, user.email):
        until = logins.locked_until(conn, user.org_id, user.email, address)
        if until is not None:
            minutes = logins.minutes_until(until)
            return _page(error=f"Too many wrong passwords. Try again in {minutes} "
                               f"minute{'s' if minutes != 1 else ''}."), 429
        checked = people.check_password(conn, user.org_id, user.email, current)
        if checked is None:
            logins.record_failure(conn, user.org_id, user.email, address)
            return _page(error="The current password is wrong."), 400
    try:
        with org_transaction(conn, user.org_id):
            people.set_password(conn, checked, new)
            audit.record(conn, user.org_id, request_entry(
                "user.set_password", "ok", target_type="user", target_id=user.email))
    except people.WeakPassword as exc:
        return _page(error=str(exc)), 400
    # The new password ended every session of the account, this one included.
    session["sid"] = logins.start_session(conn, user.org_id, user.user_id)
    flash("Password changed. Every other session of your account is signed out.")
    return redirect(url_for(".account"))


def _page(**extra):
    return render_template("account.html", active="account",
                           min_password=people.MIN_PASSWORD_LENGTH, **extra)
