"""Setting one's own password from a one-time link an admin made on the Members page: a
new member's first sign-in, or a forgotten password. No admin types, knows or sends
anyone's password.

The link carries its secret in the query string (``/password?link=mpl_...``), which
neither gunicorn's access log nor the nginx site's access log records (they log the path
alone); nginx's error log names the request when the upstream fails on it. A link works
once, for PASSWORD_LINK_LIFETIME; only its digest is stored
(``people.create_password_link``). Setting the password signs the person in, audited as
a sign-in is.
"""
from __future__ import annotations

from flask import g, redirect, render_template, request

from mojule import audit, orgs, people
from mojule.api import request_entry
from mojule.auth import UserCredential, public
from mojule.dashboard import devices, logins, signin
from mojule.dashboard.web import page_blueprint
from mojule.db import get_connection, org_transaction
from mojule.request_log import client_address

bp = page_blueprint("password_link")


@bp.get("/password")
@public
def password_form():
    """The form that sets the password of the person the link names."""
    link = request.args.get("link", "")
    try:
        user = people.password_link_user(get_connection(), link)
    except people.LinkNotUsable as refused:
        return _unusable(refused)
    return _page(link, user.email)


@bp.post("/password")
@public
def set_password():
    """Set the password the link allows, end the link, and sign the person in."""
    form, conn = request.form, get_connection()
    link, new = form.get("link", ""), form.get("new_password", "")
    try:
        if new != form.get("confirm_password", ""):
            email = people.password_link_user(conn, link).email
            return _page(link, email, error="The password and its confirmation differ."), 400
        try:
            with conn.transaction():
                user = people.use_password_link(conn, link, new)
                g.user = UserCredential(user.org_id, user.user_id, None, user.email, user.role)
                with org_transaction(conn, user.org_id):
                    audit.record(conn, user.org_id, request_entry(
                        "user.set_password", "ok", target_type="user", target_id=user.email,
                        details={"via": "password link"}))
        except people.WeakPassword as weak:
            # The link stays usable (nothing was written), unless it ended meanwhile.
            email = people.password_link_user(conn, link).email
            return _page(link, email, error=str(weak)), 400
    except people.LinkNotUsable as refused:
        return _unusable(refused)
    # The person proved more than a password guess could: earlier failures from this
    # address must not lock them out of the password they just chose.
    logins.clear_failures(conn, user.org_id, user.email, client_address())
    signin.start_session(conn, orgs.find_org_by_id(conn, user.org_id), user,
                         form.get("tz", ""))
    return devices.remember(redirect("/"), user.org_id, user.email)


@bp.after_request
def _no_referrer(response):
    # The form's address holds the secret: no request from it (its POST, its style
    # sheets) names that address in a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _page(link: str, email: str, **extra):
    return render_template("password_link.html", link=link, email=email,
                           min_password=people.MIN_PASSWORD_LENGTH, **extra)


def _unusable(refused: people.LinkNotUsable):
    return render_template(
        "password_link.html", unusable=refused.__doc__,
        lifetime_hours=int(people.PASSWORD_LINK_LIFETIME.total_seconds() // 3600)), 404
