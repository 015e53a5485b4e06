"""Your account: who you are signed in as, changing your own dashboard password, and your
personal access tokens (``mut_...``) for the read API and exports.

Changing it asks for the current password, under the sign-in throttle (``logins``): a
session left open on someone else's screen must not become a way to guess it. The new
password ends every other session of the account (``dashboard_session_resolve.sql``
compares the password), and this browser's session starts again.

A token reads what its owner sees here, no more; each is shown once and its creation and
revocation are audited as `mojule user token` and `token-revoke` are.

The page also lists who read the content of the person's own sessions (the audit trail's
content reads of them), so that reading a developer's prompts is never hidden from them.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from mojule import audit, labels, people
from mojule.api import request_entry
from mojule.api.content import content_reads
from mojule.api.params import WHOLE_NUMBER
from mojule.auth import signed_in
from mojule.dashboard import logins
from mojule.dashboard.reauth import PasswordRefused, confirm_password
from mojule.dashboard.web import confirmation, days_from_now, page_blueprint
from mojule.db import get_connection, org_transaction
from mojule.errors import NotFound
from mojule.tokens import AlreadyRevoked

bp = page_blueprint("account")
# A token made here always expires (an operator can make one that never does with
# `mojule user token`); 90 days is offered first.
API_TOKEN_LIFETIMES_DAYS = (7, 30, 90, 180, 365)
DEFAULT_API_TOKEN_DAYS = 90
MAX_USABLE_API_TOKENS = 50
WRONG_CURRENT = "The current password is wrong."
READS_ON_ACCOUNT = 5        # the newest reads of one's content the account page shows
READS_PAGE = 50


@bp.get("/account")
@signed_in
def account():
    """The signed-in person's account and the form to change their password."""
    return _page(done=confirmation())


@bp.get("/account/content-reads")
@signed_in
def content_reads_page():
    """Every read of the signed-in person's sessions' content, newest first, a page at a time."""
    before = request.args.get("before", "")
    before_id = int(before) if WHOLE_NUMBER.fullmatch(before) else None
    reads = content_reads(get_connection(), before_id, READS_PAGE + 1)
    next_page = None
    if len(reads) > READS_PAGE:
        reads = reads[:READS_PAGE]
        next_page = url_for(".content_reads_page", before=reads[-1]["audit_id"])
    return render_template("content_reads.html", active="account", reads=reads,
                           before=before_id, next_page=next_page)


@bp.post("/account/password")
@signed_in
def change_password():
    """Change one's own password, given the current one."""
    form, user, conn = request.form, g.user, get_connection()
    new = form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        return _page(error="The new password and its confirmation differ."), 400
    try:
        checked = confirm_password(form.get("current_password", ""), WRONG_CURRENT)
    except PasswordRefused as refused:
        return _page(error=refused.message), refused.status
    try:
        with org_transaction(conn, user.org_id):
            people.set_password(conn, checked, new)
            audit.record(conn, user.org_id, request_entry(
                "user.set_password", "ok", target_type="user", target_id=user.email))
    except people.WeakPassword as exc:
        return _page(error=str(exc)), 400
    # The new password ended every session of the account, this one included.
    session["sid"] = logins.start_session(conn, user.org_id, user.user_id)
    flash("Password changed. Every other session of your account is signed out; your API "
          "tokens keep working until you revoke them below.")
    return redirect(url_for(".account"))


@bp.post("/account/tokens")
@signed_in
def create_api_token():
    """Create a personal access token of the signed-in person, given their password, and
    show it, once. The password: a session left open on someone else's screen must not
    become a token that outlives it."""
    form, user, conn = request.form, g.user, get_connection()
    name = form.get("name", "").strip()
    if labels.label_problem(name):
        return _page(token_error="Name the token (what it is for), in at most 100 "
                                 "characters on one line."), 400
    expires_at = days_from_now(form.get("expires_days", ""), "expires_days",
                               API_TOKEN_LIFETIMES_DAYS, allow_never=False)
    # A checkbox: sent ("yes") when ticked, absent when not.
    reads_content = form.get("reads_content") == "yes"
    try:
        person = confirm_password(form.get("current_password", ""), WRONG_CURRENT)
    except PasswordRefused as refused:
        return _page(token_error=refused.message), refused.status
    try:
        with org_transaction(conn, user.org_id):
            token = people.create_user_token(conn, person, name, expires_at,
                                             max_usable=MAX_USABLE_API_TOKENS,
                                             reads_content=reads_content)
            audit.record(conn, user.org_id, request_entry(
                "user_token.create", "ok", target_type="user", target_id=user.email,
                details={"name": name, "prefix": token[:12],
                         "expires_at": expires_at.isoformat(),
                         "reads_content": reads_content}))
    except people.UserNotFound:
        return _removed()
    except people.TooManyTokens as many:
        return _page(token_error=f"You have {many.usable} usable API tokens, the most one "
                                 "person may have; revoke one you no longer use."), 400
    return _page(new_token=token, new_name=name)


@bp.post("/account/tokens/<int:token_id>/revoke")
@signed_in
def revoke_api_token(token_id: int):
    """Revoke one of the signed-in person's tokens; requests that use it get 401."""
    user, conn = g.user, get_connection()
    try:
        with org_transaction(conn, user.org_id):
            revoked = people.revoke_user_token(conn, _person(), str(token_id))
            audit.record(conn, user.org_id, request_entry(
                "user_token.revoke", "ok", target_type="user", target_id=user.email,
                details={"token_id": revoked.token_id, "prefix": revoked.token_prefix}))
        prefix = revoked.token_prefix
    except people.UserNotFound:
        return _removed()
    except LookupError:
        raise NotFound("You have no such API token.") from None
    except AlreadyRevoked as earlier:
        prefix = earlier.prefix    # a second click: revoked, as asked, and audited once
    flash(f"Revoked the API token {prefix}…; requests that use it now get 401.")
    return redirect(url_for(".account"))


def _person() -> people.User:
    """The signed-in person as the people functions take them. Raises UserNotFound once
    an admin removed them (their session ends with them, so only during this request)."""
    return people.find_user(get_connection(), g.user.org_id, g.user.email)


def _own_tokens() -> list[people.UserTokenInfo]:
    try:
        return people.list_user_tokens(get_connection(), _person())
    except people.UserNotFound:
        return []


def _removed():
    """Where a person removed while their request ran goes: the sign-in page."""
    session.clear()
    return redirect(url_for("signin.sign_in_form"))


def _page(**extra):
    return render_template("account.html", active="account",
                           min_password=people.MIN_PASSWORD_LENGTH,
                           api_tokens=_own_tokens(),
                           content_reads=content_reads(get_connection(), None, READS_ON_ACCOUNT),
                           lifetimes=API_TOKEN_LIFETIMES_DAYS,
                           default_days=DEFAULT_API_TOKEN_DAYS, now=datetime.now(UTC),
                           **extra)
