"""Browsers a person has signed in from, remembered in a signed cookie (OWASP's "device
cookies"), so that a guesser elsewhere cannot shut them out.

The sign-in throttle (``logins``) locks an email after failures from anywhere, and an
address after failures for any email; a guesser can set either off. A browser that has
signed in as that email before, in that org, passes both; the lock of its own address
for that email still holds, so a stolen cookie buys no more guesses than an address has.

The cookie holds a keyed digest of each (org, email) it signed in as, never the email,
and is signed with the session cookie's key: it cannot be made for an account, nor read
as one. It goes only to the sign-in form's path.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from mojule.dashboard.web import request_is_https

COOKIE = "mojule_device"
LIFETIME = timedelta(days=180)
MAX_ACCOUNTS = 8       # one browser, a few people or orgs; the oldest is forgotten first
SALT = "mojule.known-device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _account(org_id: int, email: str) -> str:
    key = hashlib.sha256(current_app.secret_key + SALT.encode()).digest()
    return hmac.new(key, f"{org_id}:{email}".encode(), hashlib.sha256).hexdigest()[:32]


def _accounts() -> list[str]:
    """The accounts this browser's cookie names; none for no cookie, an expired one, or
    one not signed by this installation."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        accounts = _serializer().loads(raw, max_age=LIFETIME.total_seconds())
    except BadSignature:
        return []
    return [item for item in accounts if isinstance(item, str)] if isinstance(accounts, list) else []


def is_known(org_id: int, email: str) -> bool:
    """Return True when this browser signed in as ``email`` of the org before."""
    return _account(org_id, email) in _accounts()


def remember(response: Response, org_id: int, email: str) -> Response:
    """Add the account to the browser's cookie (after a successful sign-in) and return
    the response."""
    account = _account(org_id, email)
    accounts = [item for item in _accounts() if item != account][-(MAX_ACCOUNTS - 1):]
    response.set_cookie(COOKIE, _serializer().dumps([*accounts, account]),
                        max_age=int(LIFETIME.total_seconds()), path="/sign-in",
                        secure=request_is_https(), httponly=True, samesite="Lax")
    return response
