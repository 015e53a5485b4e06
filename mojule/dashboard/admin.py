"""Admin pages: ingest tokens, members, the content window, the audit log, license state
(security events: mojule/dashboard/security.py).

Each change calls the same functions as the CLI and writes the same audit row (with the
signed-in admin as actor) in the same transaction, so an action is never left unrecorded.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from mojule import audit, budget, labels, orgs, people, policy
from mojule.api import request_entry
from mojule.api.params import WHOLE_NUMBER, filter_text
from mojule.auth import signed_in
from mojule.dashboard import reauth
from mojule.dashboard.ingestion import ingestion_state, policy_decision
from mojule.dashboard.web import (
    Period,
    confirmation,
    days_from_now,
    external_url,
    page_blueprint,
    period,
    require_admin,
    viewer_org,
)
from mojule.db import get_connection, org_transaction, query
from mojule.errors import BadRequest, Forbidden, NotFound
from mojule.tokens import AlreadyRevoked

bp = page_blueprint("admin")
bp.before_request(require_admin)
# Every change here asks for the admin's password unless they typed it a moment ago.
bp.before_request(reauth.ask_unless_typed_recently)
MAX_RETENTION_DAYS = 36500        # as `mojule org set --retention-days`
AUDIT_PAGE = 100
AUDIT_DAYS = 7


def _record(action: str, **fields: Any) -> None:
    """Write the audit row of an admin action; call inside the action's transaction."""
    audit.record(get_connection(), g.user.org_id, request_entry(action, "ok", **fields))


@bp.get("/admin")
@signed_in
def admin_home():
    return redirect(url_for(".tokens"))


@bp.get("/admin/tokens")
@signed_in
def tokens():
    """The org's ingest tokens (never the tokens themselves)."""
    return _tokens_page(done=confirmation())


@bp.post("/admin/tokens")
@signed_in
def create_token():
    """Create an ingest token and show it, once."""
    name = request.form.get("name", "").strip() or "ingest"
    problem = labels.label_problem(name)
    if problem:
        return _tokens_page(error=f"The token's name {problem}."), 400
    expires_at = days_from_now(request.form.get("expires_days", ""), "expires_days",
                               TOKEN_LIFETIMES_DAYS)
    token = create_ingest_token(name, expires_at)
    return _tokens_page(new_token=token, new_name=name)


# What the forms offer: how long a new token lasts, and a rotated one keeps working.
TOKEN_LIFETIMES_DAYS = (30, 90, 180, 365)
ROTATION_OVERLAPS_DAYS = (0, 1, 7)


def create_ingest_token(name: str, expires_at: datetime | None = None) -> str:
    """Create an ingest token of the viewer's org, audited as `mojule token create` is."""
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        token = orgs.create_ingest_token(conn, viewer_org(), name, expires_at)
        _record("token.create", target_type="ingest_token", target_id=token[:12],
                details={"name": name,
                         "expires_at": expires_at and expires_at.isoformat()})
    return token


@bp.post("/admin/tokens/<int:token_id>/rotate")
@signed_in
def rotate_token(token_id: int):
    """Replace an ingest token by a new one of the same name, shown once; the old one
    keeps working for the chosen overlap while installations move over."""
    overlap = days_from_now(request.form.get("overlap_days", "1"), "overlap_days",
                             ROTATION_OVERLAPS_DAYS, allow_never=False)
    conn = get_connection()
    try:
        with org_transaction(conn, g.user.org_id):
            token, old = orgs.rotate_ingest_token(conn, viewer_org(), str(token_id), overlap)
            _record("token.rotate", target_type="ingest_token", target_id=str(token_id),
                    details={"name": old.name, "prefix": old.token_prefix,
                             "new_token": token[:12],
                             "old_expires_at": old.expires_at.isoformat()})
    except orgs.TokenNotFound:
        raise NotFound("No such ingest token in this org.") from None
    except orgs.TokenRevoked:
        raise BadRequest("That token is revoked; create a new one instead.") from None
    except orgs.TokenReplaced as replaced:
        if replaced.replacement_usable:
            raise BadRequest("That token was rotated already; rotate its replacement, "
                             f"{replaced.replacement.token_prefix}…, instead.") from None
        raise BadRequest("That token was rotated already and its replacement, "
                         f"{replaced.replacement.token_prefix}…, no longer works; "
                         "create a new token instead.") from None
    return _tokens_page(new_token=token, new_name=old.name, rotated=old)


@bp.post("/admin/tokens/<int:token_id>/revoke")
@signed_in
def revoke_token(token_id: int):
    """Revoke an ingest token; exporters using it get 401 from now on."""
    conn = get_connection()
    try:
        with org_transaction(conn, g.user.org_id):
            revoked = orgs.revoke_ingest_token(conn, viewer_org(), str(token_id))
            _record("token.revoke", target_type="ingest_token", target_id=str(token_id),
                    details={"name": revoked.name, "prefix": revoked.token_prefix})
    except orgs.TokenNotFound:
        raise NotFound("No such ingest token in this org.") from None
    except AlreadyRevoked as earlier:
        # A second click, or a form from before someone else revoked it: the token is
        # revoked, as asked, and the audit trail keeps its one revocation.
        prefix = earlier.prefix
    else:
        prefix = revoked.token_prefix
    flash(f"Revoked the token {prefix}…; requests that use it now get 401.")
    return redirect(url_for(".tokens"))


def _tokens_page(**extra: Any):
    tokens = orgs.list_ingest_tokens(get_connection(), viewer_org())
    return render_template("admin/tokens.html", section="tokens", tokens=tokens,
                           prefixes={token.token_id: token.token_prefix for token in tokens},
                           now=datetime.now(UTC), lifetimes=TOKEN_LIFETIMES_DAYS,
                           overlaps=ROTATION_OVERLAPS_DAYS, **extra)


@bp.get("/admin/members")
@signed_in
def members():
    """The org's people, their roles and linked seat identities."""
    return _members_page(done=confirmation())


@bp.post("/admin/members")
@signed_in
def create_member():
    """Create a member or admin of the org."""
    email, role = request.form.get("email", ""), request.form.get("role", "member")
    if role not in people.ROLES:
        raise BadRequest(f"The role must be one of {', '.join(people.ROLES)}.")
    conn = get_connection()
    try:
        with org_transaction(conn, g.user.org_id):
            _still_admin(conn)
            created = people.create_user(conn, g.user.org_id, email, role)
            _record("user.create", target_type="user", target_id=created.email,
                    details={"role": role})
    except (people.InvalidEmail, people.UserExists) as exc:
        return _members_page(error=f"{email}: {exc.__doc__}"), 400
    flash(f"Created {created.email}. Make them a link to set their password below.")
    return redirect(url_for(".members"))


@bp.post("/admin/members/<int:user_id>/role")
@signed_in
def set_role(user_id: int):
    """Change a person's role. Admins cannot demote themselves (another admin must)."""
    member, role = _member(user_id), request.form.get("role", "")
    if role not in people.ROLES:
        raise BadRequest(f"The role must be one of {', '.join(people.ROLES)}.")
    if member.user_id == g.user.user_id and role != member.role:
        return _members_page(error="You cannot change your own role; ask another admin."), 400
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        _still_admin(conn)
        people.set_role(conn, member, role)
        _record("user.set_role", target_type="user", target_id=member.email,
                details={"role": [member.role, role]})
    flash(f"{member.email} is now {role}.")
    return redirect(url_for(".members"))


@bp.post("/admin/members/<int:user_id>/identities")
@signed_in
def link_identity(user_id: int):
    """Link a seat identity seen in telemetry to a person: its sessions become theirs."""
    member, identity = _member(user_id), request.form.get("identity", "").strip()
    try:
        kind, value = people.parse_identity(identity)
    except (people.InvalidIdentity, people.InvalidEmail) as exc:
        return _members_page(error=f"{identity or 'The identity'}: {exc.__doc__}"), 400
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        _still_admin(conn)
        people.link_identity(conn, member, kind, value)
        _record("user.link", target_type="user", target_id=member.email,
                details={"kind": kind, "value": value})
    flash(f"Linked {kind} {value} to {member.email}.")
    return redirect(url_for(".members"))


@bp.post("/admin/members/<int:user_id>/password")
@signed_in
def set_password(user_id: int):
    """Set a person's dashboard password (their other sessions end)."""
    member, password = _member(user_id), request.form.get("password", "")
    conn = get_connection()
    try:
        with org_transaction(conn, g.user.org_id):
            _still_admin(conn)
            people.set_password(conn, member, password)
            _record("user.set_password", target_type="user", target_id=member.email)
    except people.WeakPassword as exc:
        return _members_page(error=str(exc)), 400
    flash(f"Password set for {member.email}.")
    return redirect(url_for(".members"))


@bp.post("/admin/members/<int:user_id>/identities/unlink")
@signed_in
def unlink_identity(user_id: int):
    """Unlink a seat identity from a person: its sessions are no longer theirs."""
    member, identity = _member(user_id), request.form.get("identity", "").strip()
    try:
        kind, value = people.parse_identity(identity)
    except (people.InvalidIdentity, people.InvalidEmail) as exc:
        return _members_page(error=f"{identity or 'The identity'}: {exc.__doc__}"), 400
    if (kind, value) == ("email", member.email):
        return _members_page(error=f"{member.email} signs in with that email: its sessions "
                                   "are theirs while they are a member."), 400
    conn = get_connection()
    try:
        with org_transaction(conn, g.user.org_id):
            _still_admin(conn)
            people.unlink_identity(conn, member, kind, value)
            _record("user.unlink", target_type="user", target_id=member.email,
                    details={"kind": kind, "value": value})
    except LookupError:
        holder = people.identity_holder(conn, g.user.org_id, kind, value)
        if holder is not None:
            return _members_page(error=f"{kind}:{value} is linked to {holder}, not "
                                       f"{member.email}; nothing was unlinked."), 400
        # A second click, or another admin unlinked it first: unlinked, as asked.
        flash(f"{kind}:{value} is not linked to {member.email}; nothing to unlink.")
        return redirect(url_for(".members"))
    flash(f"Unlinked {kind} {value} from {member.email}.")
    return redirect(url_for(".members"))


@bp.post("/admin/members/<int:user_id>/tokens/revoke")
@signed_in
def revoke_member_tokens(user_id: int):
    """Revoke every usable API token of a person (a lost laptop, a script gone astray)."""
    member, conn = _member(user_id), get_connection()
    with org_transaction(conn, g.user.org_id):
        _still_admin(conn)
        revoked = people.revoke_all_user_tokens(conn, member)
        for token in revoked:
            _record("user_token.revoke", target_type="user", target_id=member.email,
                    details={"token_id": token.token_id, "prefix": token.token_prefix})
    flash(f"Revoked {len(revoked)} API token{'' if len(revoked) == 1 else 's'} of "
          f"{member.email}; requests that use them now get 401.")
    return redirect(url_for(".members"))


@bp.post("/admin/members/<int:user_id>/delete")
@signed_in
def delete_member(user_id: int):
    """Remove a person: their dashboard sessions, API tokens and linked identities go with
    them. The telemetry of their sessions stays, as the org's."""
    member = _member(user_id)
    if member.user_id == g.user.user_id:
        return _members_page(error="You cannot remove yourself; ask another admin."), 400
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        _still_admin(conn)
        dropped = people.delete_user(conn, member)
        _record("user.delete", target_type="user", target_id=member.email, details=dropped)
    flash(f"Removed {member.email}: they are signed out and their API tokens refused. "
          "Their sessions' telemetry stays.")
    return redirect(url_for(".members"))


@bp.post("/admin/members/<int:user_id>/password-link")
@signed_in
def make_password_link(user_id: int):
    """Make a one-time link with which a person sets their own password, and show it once;
    their older link stops working."""
    member, conn = _member(user_id), get_connection()
    if member.user_id == g.user.user_id:
        return _members_page(error="Change your own password on your account page."), 400
    with org_transaction(conn, g.user.org_id):
        _still_admin(conn)
        secret, expires_at = people.create_password_link(conn, member)
        _record("user.password_link", target_type="user", target_id=member.email,
                details={"expires_at": expires_at.isoformat(timespec="seconds")})
    return _members_page(password_link=external_url("password_link.password_form",
                                                    link=secret),
                         link_for=member.email, link_expires=expires_at)


@bp.post("/admin/members/<int:user_id>/password-link/cancel")
@signed_in
def cancel_password_link(user_id: int):
    """End a person's pending password link (sent to the wrong address, say)."""
    member, conn = _member(user_id), get_connection()
    with org_transaction(conn, g.user.org_id):
        _still_admin(conn)
        if people.void_password_links(conn, member):
            _record("user.password_link_cancel", target_type="user", target_id=member.email)
    flash(f"The password link of {member.email} no longer works.")
    return redirect(url_for(".members"))


def _still_admin(conn) -> None:
    """Hold the org's admins and check the viewer is still one of them (another admin may
    have demoted or removed them since this request began). Raises Forbidden.

    With the admins held, of two admins removing or demoting each other at once the
    second finds they no longer are one: the org keeps an admin."""
    if g.user.user_id not in people.lock_admins(conn, g.user.org_id):
        raise Forbidden("You are no longer an admin of this org.")


def _member(user_id: int) -> people.User:
    for member in people.list_users(get_connection(), g.user.org_id):
        if member.user_id == user_id:
            return member
    raise NotFound("No such person in this org.")


def _members_page(**extra: Any):
    conn = get_connection()
    identities: dict[int, list[str]] = {}
    with org_transaction(conn, g.user.org_id):
        for user_id, kind, value in conn.execute(query("dashboard_identities"),
                                                 {"org_id": g.user.org_id}):
            identities.setdefault(user_id, []).append(f"{kind}:{value}")
        usable_tokens = dict(conn.execute(query("dashboard_usable_user_tokens"),
                                          {"org_id": g.user.org_id}).fetchall())
        pending_links = dict(conn.execute(query("dashboard_pending_password_links"),
                                          {"org_id": g.user.org_id}).fetchall())
    return render_template("admin/members.html", section="members",
                           members=people.list_users(conn, g.user.org_id),
                           identities=identities, usable_tokens=usable_tokens,
                           roles=people.ROLES,
                           min_password=people.MIN_PASSWORD_LENGTH,
                           pending_links=pending_links,
                           sign_in_url=external_url("signin.sign_in_form",
                                                    org=session["org_slug"]), **extra)


@bp.route("/admin/settings", methods=("GET", "POST"))
@signed_in
def settings():
    """The content window: how many days verbatim content is kept before the purge."""
    org = viewer_org()
    if request.method == "GET":
        return _settings_page(org, done=confirmation())
    text = request.form.get("retention_days", "").strip()
    if not WHOLE_NUMBER.fullmatch(text) or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        return _settings_page(org, error=f"The window is a whole number of days from 1 to "
                                         f"{MAX_RETENTION_DAYS}."), 400
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        after = orgs.set_org(conn, org, retention_days=int(text))
        _record("org.update", target_type="org", target_id=org.slug,
                details={"retention_days": [org.retention_days, after.retention_days],
                         "name_changed": False})
    flash(f"Saved: content is kept {after.retention_days} days.")
    return redirect(url_for(".settings"))


@bp.post("/admin/settings/budget")
@signed_in
def set_budget():
    """The org's monthly budget in dollars, shown against the month's cost (blank: none)."""
    org, typed = viewer_org(), request.form.get("monthly_budget_usd", "")
    try:
        amount = budget.parse_budget(typed)
    except budget.InvalidBudget as exc:
        return _settings_page(org, budget_typed=typed, budget_error=exc.__doc__), 400
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        after, replaced = orgs.set_monthly_budget(conn, org, amount)
        change = budget.budget_change(replaced, after.monthly_budget_usd)
        if change:      # saving the same budget again changes nothing to record
            _record("org.update", target_type="org", target_id=org.slug, details=change)
    flash(f"Saved: the monthly budget is {budget.budget_text(after)}.")
    return redirect(url_for(".settings"))


def _settings_page(org: orgs.Org, **extra: Any):
    return render_template("admin/settings.html", section="settings", org=org,
                           most=MAX_RETENTION_DAYS, **extra)


@bp.get("/admin/audit")
@signed_in
def audit_log():
    """The org's audit trail in the period, filtered by actor and target, newest first."""
    span = _audit_period()
    actor, target, action = filter_text("actor"), filter_text("target"), filter_text("action")
    before = request.args.get("before", "")
    before_id = int(before) if WHOLE_NUMBER.fullmatch(before) else None
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        rows = audit.newest_rows(conn, g.user.org_id, span.start, span.end, actor, target,
                                 before_id, AUDIT_PAGE + 1, action)
        audit.record(conn, g.user.org_id, request_entry(
            "audit.read", "allowed", details={"rows": min(len(rows), AUDIT_PAGE)}))
    filters = {**span.page_args(), "actor": actor, "target": target, "action": action}
    next_page = None
    if len(rows) > AUDIT_PAGE:
        rows = rows[:AUDIT_PAGE]
        next_page = url_for(".audit_log", before=rows[-1]["audit_id"],
                            **{name: value for name, value in filters.items() if value})
    return render_template("admin/audit.html", section="audit", span=span, rows=rows,
                           actor=actor or "", target=target or "", action=action or "",
                           next_page=next_page)


def _audit_period() -> Period:
    span = period()
    if "from" in request.args:
        return span
    return Period(span.last - timedelta(days=AUDIT_DAYS - 1), span.last, span.tz)


@bp.get("/admin/license")
@signed_in
def license_page():
    """The license and whether ingestion runs or is paused, and why."""
    return render_template("admin/license.html", section="license", state=ingestion_state(),
                           decision=policy_decision(), seat_days=policy.SEAT_WINDOW.days)
