"""Request parameters that no stored value can match: refused before any view reads them.

PostgreSQL's text cannot hold a NUL character, so a query parameter, form field or URL
part with one names nothing Mojule stores; passed on, it would fail in the database as a
500. It gets a 400 naming the parameter instead.
"""
from __future__ import annotations

from flask import Flask, request

from mojule.errors import BadRequest

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)


def refuse_nul() -> None:
    """Raise BadRequest naming the first parameter that holds a NUL character."""
    named = [*request.args.items(multi=True), *(request.view_args or {}).items()]
    # Only a form is read: an ingest body is JSON, and stays unread until its view reads it.
    if request.mimetype in FORM_TYPES:
        named += request.form.items(multi=True)
    for name, value in named:
        if "\x00" in name or "\x00" in str(value):
            raise BadRequest(f"Parameter {name!r} must not contain a NUL character.")
