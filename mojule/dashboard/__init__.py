"""The dashboard: server-rendered pages for signed-in people, on the same app as the API.

Pages are Jinja templates over the same functions the API calls (``mojule.analytics`` for
every usage figure), so a page and the API never disagree. The browser holds a signed
session cookie naming a server-side session (``logins``); every form carries a CSRF token.
The signing key is derived from the master key, so the dashboard needs no setting of its own.

The view modules are imported by ``init_app``, not here: ``mojule.auth`` imports
``mojule.dashboard.logins``, and the views import ``mojule.auth``.
"""
from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask

from mojule.dashboard.logins import SESSION_LIFETIME

SESSION_KEY_INFO = b"mojule/dashboard-session/v1"
SESSION_COOKIE = "mojule_session"


def session_secret(master_key: str) -> bytes:
    """Return the key that signs session cookies: HKDF-SHA256 of the master key.

    A new master key signs everyone out, which is what a key rotation should do.
    """
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=SESSION_KEY_INFO).derive(base64.b64decode(master_key))


def init_app(app: Flask) -> None:
    """Configure the session cookie and the templates' helpers; register the pages."""
    from mojule.dashboard import (
        account,
        admin,
        connect,
        erasure,
        holds,
        overview,
        password_link,
        security,
        sessions,
        signin,
        web,
    )

    app.secret_key = session_secret(app.config["MOJULE"]["MASTER_KEY"])
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.session_interface = web.DashboardSessionInterface()
    web.init_templates(app)
    for blueprint in (signin.bp, password_link.bp, overview.bp, sessions.bp, admin.bp,
                      holds.bp, erasure.bp, security.bp, connect.bp, account.bp):
        app.register_blueprint(blueprint)
    # Before the JSON handler of every HTTP error: Flask looks up a status's own first.
    for status in (404, 405):
        app.register_error_handler(status, web.unrouted_page)
