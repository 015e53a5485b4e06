"""The admin Legal holds page: keep a session's content, or a seat's, past the window.

Placing and releasing call the functions `mojule hold` calls and write the same audit
rows, with the signed-in admin as actor, in the same transaction. As every admin change,
each asks for the admin's password unless they typed it a moment ago.
"""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from mojule import audit, holds, people
from mojule.api import request_entry
from mojule.auth import signed_in
from mojule.dashboard import reauth
from mojule.dashboard.web import confirmation, page_blueprint, require_admin
from mojule.db import get_connection, org_transaction
from mojule.errors import NotFound

bp = page_blueprint("holds")
bp.before_request(require_admin)
bp.before_request(reauth.ask_unless_typed_recently)


@bp.get("/admin/holds")
@signed_in
def holds_page():
    """The org's holds, active first, and the form to place one (``?session=`` fills it in,
    from a session's page)."""
    return _page(done=confirmation(), session_id=request.args.get("session", ""))


@bp.post("/admin/holds")
@signed_in
def place_hold():
    """Place a hold on a session, a seat or each seat of a person, with a reason."""
    form, conn = request.form, get_connection()
    kind = form.get("kind", "session")
    target = form.get("target", "")
    reason = form.get("reason", "")
    try:
        with org_transaction(conn, g.user.org_id):
            if kind == "person":
                placed = holds.place_person_holds(conn, g.user.org_id, reason, g.user.email,
                                                  target)
            else:
                placed = [holds.place_hold(
                    conn, g.user.org_id, reason, g.user.email,
                    session_id=target if kind == "session" else None,
                    seat=target if kind == "seat" else None)]
            for hold in placed:
                audit.record(conn, g.user.org_id, request_entry(
                    "hold.place", "ok", target_type="hold", target_id=str(hold.hold_id),
                    details={**holds.audit_details(hold),
                             **({"person": people.normalise_email(target)}
                                if kind == "person" else {})}))
    except holds.InvalidRequest as exc:
        return _page(error=str(exc), kind=kind, target=target, reason=reason), 400
    if kind == "person":
        flash(f"Placed {len(placed)} hold(s), one on each seat of {target.strip()} "
              f"({', '.join(hold.seat_identity for hold in placed)}): the purge keeps the "
              f"content of their {sum(hold.sessions for hold in placed)} session(s) until "
              "the holds are released.")
    else:
        (hold,) = placed
        flash(f"Placed hold {hold.hold_id} on {hold.target}: the purge keeps the content of "
              f"its {hold.sessions} session(s) until the hold is released."
              + ("" if hold.sessions else " No session has this seat yet: check it is "
                                          "written as the Users page writes it."))
    return redirect(url_for(".holds_page"))


@bp.post("/admin/holds/<int:hold_id>/release")
@signed_in
def release_hold(hold_id: int):
    """Release an active hold; the next purge removes what the window no longer keeps."""
    conn = get_connection()
    try:
        with org_transaction(conn, g.user.org_id):
            released = holds.release_hold(conn, g.user.org_id, hold_id, g.user.email)
            audit.record(conn, g.user.org_id, request_entry(
                "hold.release", "ok", target_type="hold", target_id=str(hold_id),
                details=holds.audit_details(released)))
    except holds.HoldNotFound:
        raise NotFound("No such active hold; it may have been released already.") from None
    flash(f"Released hold {hold_id} on {released.target}. The next purge removes its content "
          "older than the org's window.")
    return redirect(url_for(".holds_page"))


def _page(error: str | None = None, done: str | None = None, kind: str = "session",
          target: str = "", reason: str = "", session_id: str = ""):
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        listed = holds.list_holds(conn, g.user.org_id)
    return render_template("admin/holds.html", section="holds", holds=listed, error=error, done=done,
                           kind="session" if session_id else kind,
                           target=session_id or target, reason=reason,
                           max_reason=holds.MAX_REASON_LENGTH)
