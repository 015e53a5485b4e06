"""Authentication: a before_request hook that denies by default.

Each view declares what credential it takes with a decorator (``@public``,
``@ingest_token_required``, ``@signed_in``...); a view without one is refused. The hook
decides before the request body is read, and every refusal looks the same to the client:
the reason goes to the server log only, and never the token. A dashboard page without a
signed-in user redirects to the sign-in page instead of answering 401.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Flask, current_app, g, redirect, request, session
from werkzeug.wrappers import Response

from mojule import tokens
from mojule.dashboard.logins import resolve_session
from mojule.db import get_connection
from mojule.errors import Unauthorized
from mojule.orgs import resolve_ingest_token
from mojule.people import WHOLE_ORG_ROLES, resolve_user_token

log = logging.getLogger("mojule.auth")

PUBLIC = "public"
INGEST = "ingest"
USER = "user"
SIGNED_IN = "signed_in"
USER_OR_SIGNED_IN = "user_or_signed_in"
SIGN_IN_PATH = "/sign-in"


@dataclass(frozen=True)
class IngestCredential:
    org_id: int
    token_id: int


@dataclass(frozen=True)
class UserCredential:
    org_id: int
    user_id: int
    token_id: int | None       # None when signed in to the dashboard with a password
    email: str
    role: str
    # Whether the credential may read content: a dashboard session may (as its user may),
    # an API token only when made to (migration 0035).
    reads_content: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_whole_org(self) -> bool:
        """Whether their reports and sessions are the whole org's (admins, analysts)."""
        return self.role in WHOLE_ORG_ROLES


def public(view: Callable) -> Callable:
    """Mark a view as needing no credential."""
    view.mojule_auth = PUBLIC
    return view


def ingest_token_required(view: Callable) -> Callable:
    """Mark a view as taking an org ingest token (``Bearer mtk_...``)."""
    view.mojule_auth = INGEST
    return view


def user_token_required(view: Callable) -> Callable:
    """Mark a view as taking a user's personal access token (``Bearer mut_...``)."""
    view.mojule_auth = USER
    return view


def signed_in(view: Callable) -> Callable:
    """Mark a view as a dashboard page for a user signed in with the session cookie."""
    view.mojule_auth = SIGNED_IN
    return view


def user_token_or_signed_in(view: Callable) -> Callable:
    """Mark a read-only GET view (an export) as taking a user token or, from a browser
    without one, the dashboard session cookie."""
    view.mojule_auth = USER_OR_SIGNED_IN
    return view


def init_app(app: Flask) -> None:
    """Register the authentication hook."""
    app.before_request(authenticate)


def authenticate() -> Response | None:
    """Check the request's credential against what its view declares; raise Unauthorized,
    or redirect a dashboard page to the sign-in page."""
    view = current_app.view_functions.get(request.endpoint)
    if view is None:
        return  # no such route: routing answers 404 or 405
    kind = getattr(view, "mojule_auth", None)
    if kind == PUBLIC:
        return
    if kind == INGEST:
        g.ingest = _ingest_credential()
        return
    if kind == USER:
        g.user = _user_credential()
        return
    if kind == SIGNED_IN:
        credential = session_credential()
        if credential is None:
            return redirect(f"{SIGN_IN_PATH}?{urlencode({'next': request.full_path.rstrip('?')})}")
        g.user = credential
        return
    if kind == USER_OR_SIGNED_IN:
        # The cookie is accepted for reads only: a browser sends it cross-site on GET
        # navigations (SameSite=Lax), which can download but change nothing.
        if bearer_token() is None and request.method in ("GET", "HEAD"):
            g.user = session_credential()
            if g.user is None:
                _refuse("no Bearer token and no dashboard session")
        else:
            g.user = _user_credential()
        return
    _refuse("view declares no credential")


def bearer_token() -> str | None:
    """Return the token of an ``Authorization: Bearer`` header (scheme case-insensitive)."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _ingest_credential() -> IngestCredential:
    token = bearer_token()
    if token is None:
        _refuse("no Bearer token")
    if not tokens.is_well_formed(token, tokens.INGEST_PREFIX):
        _refuse("malformed ingest token or bad checksum")
    conn = get_connection()
    resolved = resolve_ingest_token(conn, token)
    if resolved is None:
        _refuse("unknown ingest token")
    if resolved.revoked:
        _refuse(f"revoked ingest token {resolved.token_id} of org {resolved.org_id}")
    if resolved.expired:
        _refuse(f"expired ingest token {resolved.token_id} of org {resolved.org_id}")
    return IngestCredential(org_id=resolved.org_id, token_id=resolved.token_id)


def _user_credential() -> UserCredential:
    token = bearer_token()
    if token is None:
        _refuse("no Bearer token")
    if not tokens.is_well_formed(token, tokens.USER_PREFIX):
        _refuse("malformed user token or bad checksum")
    resolved = resolve_user_token(get_connection(), token)
    if resolved is None:
        _refuse("unknown user token")
    if resolved.revoked:
        _refuse(f"revoked user token {resolved.token_id} of org {resolved.org_id}")
    if resolved.expired:
        _refuse(f"expired user token {resolved.token_id} of org {resolved.org_id}")
    return UserCredential(org_id=resolved.org_id, user_id=resolved.user_id,
                          token_id=resolved.token_id, email=resolved.email, role=resolved.role,
                          reads_content=resolved.reads_content)


def session_credential() -> UserCredential | None:
    """Return the user the dashboard session cookie signs in, or None."""
    org_id, session_id = session.get("org_id"), session.get("sid")
    if not isinstance(org_id, int) or not isinstance(session_id, str):
        return None
    found = resolve_session(get_connection(), org_id, session_id)
    if found is None:
        return None
    return UserCredential(org_id=org_id, user_id=found.user_id, token_id=None,
                          email=found.email, role=found.role)


def _refuse(reason: str) -> None:
    log.info("401 %s %s: %s", request.method, request.path, reason)
    raise Unauthorized()
