"""The admin Erasure page: delete a person's content, or one session's, before its window
ends, and the erasures made so far (from the audit trail).

Erasing calls what `mojule content erase` calls and writes the same audit row, with the
signed-in admin as actor, in the same transaction. As every admin change, it asks for the
admin's password unless they typed it a moment ago.
"""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from mojule import audit, erasure, holds, people
from mojule.api import request_entry
from mojule.auth import signed_in
from mojule.dashboard import reauth
from mojule.dashboard.web import confirmation, page_blueprint, require_admin
from mojule.db import get_connection, org_transaction

bp = page_blueprint("erasure")
bp.before_request(require_admin)
bp.before_request(reauth.ask_unless_typed_recently)
RECENT_ERASURES = 50


@bp.get("/admin/erasure")
@signed_in
def erasure_page():
    """The form (``?session=`` fills it in, from a session's page) and the latest erasures."""
    return _page(done=confirmation(), target=request.args.get("session", ""))


@bp.post("/admin/erasure")
@signed_in
def erase():
    """Erase the content of a session, of a seat's sessions or of a person's, with a reason."""
    form, conn = request.form, get_connection()
    kind, target, reason = form.get("kind", "session"), form.get("target", ""), form.get("reason", "")
    try:
        with org_transaction(conn, g.user.org_id):
            if kind == "person":
                erased = erasure.erase_person(conn, g.user.org_id, reason, target)
            else:
                erased = erasure.erase_content(conn, g.user.org_id, reason,
                                               session_id=target if kind == "session" else None,
                                               seat=target if kind == "seat" else None)
            audit.record(conn, g.user.org_id, request_entry(
                "content.erase", "ok", target_type=erased.kind, target_id=erased.target,
                reason=reason.strip(), details=erasure.audit_details(erased)))
    except holds.InvalidRequest as exc:
        return _page(error=str(exc), kind=kind, target=target, reason=reason), 400
    except erasure.ContentHeld as exc:
        # Refused attempts are on the record too, as refused content reads are.
        with org_transaction(conn, g.user.org_id):
            audit.record(conn, g.user.org_id, request_entry(
                "content.erase", "denied",
                target_type=kind if kind in ("seat", "person") else "session",
                target_id=(people.normalise_email(target) if kind == "person"
                           else target)[:512],
                reason=f"legal hold(s) {exc.hold_ids}",
                details={"requested_because": reason.strip()}))
        held = ", ".join(map(str, exc.hold_ids))
        which = (f"Legal hold {held} keeps this content; nothing was erased. Release it"
                 if len(exc.hold_ids) == 1 else
                 f"Legal holds {held} keep this content; nothing was erased. Release them")
        return _page(error=f"{which} first, under Legal holds.",
                     kind=kind, target=target, reason=reason), 409
    flash(f"Erased {erased.values} content values of {erased.kind} {erased.target}"
          + (f" (seats {', '.join(erased.seats)})." if erased.seats else "."))
    return redirect(url_for(".erasure_page"))


def _page(error: str | None = None, done: str | None = None, kind: str = "session",
          target: str = "", reason: str = ""):
    conn = get_connection()
    with org_transaction(conn, g.user.org_id):
        erasures = audit.newest_rows(conn, g.user.org_id, None, None, None, None, None,
                                     RECENT_ERASURES, action="content.erase")
    return render_template("admin/erasure.html", section="erasure", erasures=erasures,
                           error=error, done=done, kind=kind, target=target, reason=reason,
                           max_reason=holds.MAX_REASON_LENGTH)
