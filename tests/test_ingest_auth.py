"""Ingest authentication: every refusal is the same 401, decided before the body is read,
with nothing written and the token never logged.
"""
from __future__ import annotations

import gzip
import logging
import os

import pytest

from mojule import orgs, tokens
from tests.conftest import fixture_bytes
from tests.ingest_support import (
    ROUTES,
    app_client,
    database_snapshot,
    fixture_payload,
    records,
)

JSON = {"Content-Type": "application/json"}


def flip_one_character(token: str) -> str:
    """The token with one character of its random part changed: the checksum no longer fits."""
    position = len("mtk_") + 5
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1:]


BAD_AUTHORIZATION = {
    "missing header": lambda token: None,
    "basic scheme": lambda token: f"Basic {token}",
    "token without scheme": lambda token: token,
    "bearer with nothing": lambda token: "Bearer",
    "bearer with blanks": lambda token: "Bearer    ",
    "wrong prefix": lambda token: f"Bearer {tokens.generate('ghp')}",
    "prefix without underscore": lambda token: f"Bearer {token.replace('mtk_', 'mtk-')}",
    "bad checksum": lambda token: f"Bearer {flip_one_character(token)}",
    "truncated": lambda token: f"Bearer {token[:-1]}",
    "well-formed unknown token": lambda token: f"Bearer {tokens.generate(tokens.INGEST_PREFIX)}",
    "user token": lambda token: f"Bearer {tokens.generate(tokens.USER_PREFIX)}",
    "too long": lambda token: f"Bearer {token}{'a' * 300}",
    "non-base62 character": lambda token: f"Bearer {token[:-7]}%{token[-6:]}",
    "two tokens": lambda token: f"Bearer {token},{token}",
}


@pytest.fixture
def server_log(caplog):
    """Captures what the app logs (the mojule logger does not propagate to the root)."""
    logger = logging.getLogger("mojule")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="mojule")
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture
def refusal(client):
    """The body of the 401 for a request without credentials, to compare every 401 with."""
    return client.post("/v1/logs", data=b"{}", headers=JSON).data


def post_with(client, authorization: str | None, signal: str = "logs", **kwargs):
    headers = dict(JSON)
    if authorization is not None:
        headers["Authorization"] = authorization
    headers.update(kwargs.pop("headers", {}))
    return client.post(f"/v1/{signal}", headers=headers,
                       data=kwargs.pop("data", fixture_bytes("bash-tool", signal)), **kwargs)


def assert_refused(response, refusal: bytes) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.is_json
    assert response.data == refusal


@pytest.mark.parametrize("case", BAD_AUTHORIZATION)
@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
def test_bad_credential_gets_the_same_401_writes_nothing_and_never_logs_the_token(
        client, org, db, server_log, refusal, case, signal):
    authorization = BAD_AUTHORIZATION[case](org.token)
    before = database_snapshot(db)

    response = post_with(client, authorization, signal)

    assert_refused(response, refusal)
    assert database_snapshot(db) == before
    assert "401" in server_log.text
    assert org.token not in server_log.text
    presented = (authorization or "").split()[-1:]
    if presented and len(presented[0]) > len("Bearer"):
        assert presented[0] not in server_log.text


def test_refusal_names_its_reason_in_the_server_log_only(client, org, server_log, refusal):
    response = post_with(client, f"Bearer {tokens.generate(tokens.INGEST_PREFIX)}")

    assert_refused(response, refusal)
    assert "unknown ingest token" in server_log.text
    assert b"unknown" not in response.data


def test_revoked_token_is_refused_on_its_next_request_and_writes_nothing(
        client, org, db, server_log, refusal):
    assert post_with(client, f"Bearer {org.token}").status_code == 202
    orgs.revoke_ingest_token(db, org.org, tokens.visible_prefix(org.token))
    before = database_snapshot(db)

    response = post_with(client, f"Bearer {org.token}", "traces")

    assert_refused(response, refusal)
    assert database_snapshot(db) == before
    assert "revoked" in server_log.text
    assert org.token not in server_log.text


def test_expired_token_is_refused_alike_and_writes_nothing(client, org, db, server_log,
                                                         refusal):
    assert post_with(client, f"Bearer {org.token}").status_code == 202
    db.execute("UPDATE ingest_tokens SET expires_at = now() - interval '1 second'"
               " WHERE token_prefix = %s", (tokens.visible_prefix(org.token),))
    before = database_snapshot(db)

    response = post_with(client, f"Bearer {org.token}", "traces")

    assert_refused(response, refusal)
    assert database_snapshot(db) == before
    assert "expired ingest token" in server_log.text
    assert org.token not in server_log.text


def test_revoking_one_token_leaves_the_orgs_other_tokens_working(client, org, db, refusal):
    second = orgs.create_ingest_token(db, org.org, "second")
    orgs.revoke_ingest_token(db, org.org, tokens.visible_prefix(org.token))

    assert_refused(post_with(client, f"Bearer {org.token}"), refusal)
    assert post_with(client, f"Bearer {second}").status_code == 202


def test_bearer_scheme_is_case_insensitive(client, org):
    assert post_with(client, f"bearer {org.token}").status_code == 202
    assert post_with(client, f"BEARER {org.token}", "metrics").status_code == 202


@pytest.mark.parametrize("body, headers", [
    (b"\x1f\x8b\x08\x00corrupt gzip", {"Content-Encoding": "gzip"}),
    (b"\x00\x01 protobuf bytes", {"Content-Type": "application/x-protobuf"}),
    (b"not json at all", {}),
    (gzip.compress(bytes(4 * 1024 * 1024)), {"Content-Encoding": "gzip"}),
    (b"{}", {"Content-Encoding": "br"}),
], ids=["corrupt-gzip", "protobuf", "not-json", "inflates-past-limit", "unknown-encoding"])
def test_bad_token_is_401_before_the_body_is_looked_at(config, org, db, refusal, body, headers):
    with app_client(config, MAX_BODY_BYTES=1024 * 1024) as client:
        response = post_with(client, f"Bearer {flip_one_character(org.token)}", data=body,
                             headers=headers)

    assert_refused(response, refusal)


class UnreadableStream:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body of an unauthenticated request was read")

    readline = readlines = read


def test_bad_token_is_refused_without_reading_the_body(client, org):
    response = client.post("/v1/logs", headers={
        **JSON, "Authorization": f"Bearer {tokens.generate(tokens.INGEST_PREFIX)}",
    }, environ_overrides={"wsgi.input": UnreadableStream(), "CONTENT_LENGTH": "1000"})

    assert response.status_code == 401


@pytest.mark.parametrize("route", [route for routes in ROUTES.values() for route in routes])
def test_every_ingest_route_requires_a_token(client, db, refusal, route):
    before = database_snapshot(db)

    response = client.post(route, data=b"{}", headers=JSON)

    assert_refused(response, refusal)
    assert database_snapshot(db) == before


def test_token_of_one_org_never_writes_to_another(client, org, other_org, db):
    before = database_snapshot(db)
    expected = len(records(fixture_payload("bash-tool", "logs"), "logs"))

    assert post_with(client, f"Bearer {org.token}").get_json()["counts"]["logEvents"] == expected

    other_tables = ("log_events", "metric_points", "spans", "sessions", "content_values")
    for table in other_tables:
        count = db.execute(f"SELECT count(*) FROM {table} WHERE org_id = %s",
                           (other_org.org.org_id,)).fetchone()[0]
        assert count == 0
    assert database_snapshot(db) != before


def test_random_bytes_as_token_never_get_past_401(client, refusal):
    for _ in range(50):
        garbage = os.urandom(24).hex()
        assert_refused(post_with(client, f"Bearer mtk_{garbage}"), refusal)
