"""JSON responses are written by orjson (mojule/json_provider.py) and say what Flask's own
provider said: the same values, keys sorted, money as exact text, dates as HTTP dates."""
from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import jsonify
from flask.json.provider import DefaultJSONProvider

from mojule.auth import public
from mojule.json_provider import OrjsonProvider


@dataclasses.dataclass
class Seat:
    email: str
    sessions: int


SAMPLE = {
    "zeta": [1, 2.5, None, True],
    "cost_usd": Decimal("0.016880"),
    "day": date(2026, 11, 27),
    "moment": datetime(2026, 11, 27, 15, 42, 20, tzinfo=UTC),
    "seat": Seat("ana@example.com", 3),
    "name": "Zoë — 東京",
    "by_hour": {9: "morning", 14: "afternoon"},
    "alpha": {"b": 1, "a": 2},
}


def test_the_app_writes_json_with_orjson(app):
    assert isinstance(app.json, OrjsonProvider)


# What orjson writes itself: keys that are all text.
TEXT_KEYED = {key: value for key, value in SAMPLE.items() if key != "by_hour"}


@pytest.mark.parametrize("sample", [TEXT_KEYED, SAMPLE], ids=["text-keys", "integer-keys"])
def test_a_response_says_what_flasks_own_provider_said(app, sample):
    with app.app_context():
        ours = app.json.response(sample).get_data()
        flasks = DefaultJSONProvider(app).dumps(sample)
    # The same values, in the same order, everywhere (integer keys included: those the
    # standard library writes).
    assert json.loads(ours, object_pairs_hook=list) == json.loads(flasks, object_pairs_hook=list)
    assert ours.endswith(b"\n")


def test_money_dates_and_dataclasses_are_written_as_flask_wrote_them(app):
    with app.app_context():
        body = app.json.response(TEXT_KEYED).get_data()
    decoded = json.loads(body)
    assert decoded["cost_usd"] == "0.016880"
    assert decoded["day"] == "Fri, 27 Nov 2026 00:00:00 GMT"
    assert decoded["seat"] == {"email": "ana@example.com", "sessions": 3}
    assert decoded["name"] == "Zoë — 東京"
    assert "Zoë".encode() in body      # orjson's UTF-8, where the standard library escapes


def test_keys_are_written_sorted(app):
    with app.app_context():
        text = app.json.response(TEXT_KEYED).get_data(as_text=True)
    top_level = list(json.loads(text))
    assert top_level == sorted(top_level)
    assert text.index('"alpha"') < text.index('"cost_usd"') < text.index('"zeta"')
    assert text.index('"a":2') < text.index('"b":1')


def test_an_integer_beyond_64_bits_is_written_exactly(app):
    huge = {"value": 2**70, "cost_usd": Decimal("1.500000")}
    with app.app_context():
        body = app.json.response(huge).get_data()
    assert json.loads(body) == {"value": 2**70, "cost_usd": "1.500000"}


def test_nan_and_infinity_are_written_as_null(app):
    with app.app_context():
        body = app.json.response({"nan": math.nan, "inf": math.inf}).get_data()
    assert json.loads(body) == {"inf": None, "nan": None}


def test_jsonify_in_a_view_answers_application_json(app):
    @app.get("/json-sample")
    @public
    def sample():
        return jsonify(SAMPLE)

    response = app.test_client().get("/json-sample")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["cost_usd"] == "0.016880"


def test_errors_leave_as_json_written_the_same_way(client):
    response = client.get("/api/v1/usage")
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.get_data().endswith(b"}\n")
    assert response.get_json()["error"]


def test_template_filter_options_still_apply(app):
    with app.app_context():
        indented = app.json.dumps({"b": 1, "a": [1]}, indent=2)
    assert indented == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}'
