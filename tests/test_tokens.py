"""Ingest token format, checksum and storage: shown once, only a digest kept, revocable by
id or visible prefix.
"""
from __future__ import annotations

import hashlib
import re
import string
import zlib

import pytest

from mojule import orgs, tokens

TOKEN_PATTERN = re.compile(r"^mtk_[0-9A-Za-z]{32,}[0-9A-Za-z]{6}$")
BASE62 = string.digits + string.ascii_letters


def base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = BASE62[remainder] + digits
    return digits.rjust(width, "0")


def test_generated_ingest_token_is_prefix_random_base62_and_crc32_checksum():
    token = tokens.generate(tokens.INGEST_PREFIX)

    assert TOKEN_PATTERN.match(token)
    assert len(token) <= 255
    body, checksum = token[:-6], token[-6:]
    assert checksum == base62(zlib.crc32(body.encode()), 6)
    assert tokens.is_well_formed(token, tokens.INGEST_PREFIX)


def test_tokens_never_contain_what_otel_header_parsing_splits_on():
    for _ in range(200):
        token = tokens.generate(tokens.INGEST_PREFIX)
        assert not set(token) & set(",;% =\t\"'")


def test_tokens_are_unique():
    assert len({tokens.generate(tokens.INGEST_PREFIX) for _ in range(1000)}) == 1000


def test_changing_any_single_character_breaks_the_checksum():
    token = tokens.generate(tokens.INGEST_PREFIX)
    for position in range(len("mtk_"), len(token)):
        for replacement in "0aZ":
            if replacement != token[position]:
                typo = token[:position] + replacement + token[position + 1:]
                assert not tokens.is_well_formed(typo, tokens.INGEST_PREFIX), typo


def test_swapping_two_neighbouring_characters_breaks_the_checksum():
    token = tokens.generate(tokens.INGEST_PREFIX)
    for position in range(len("mtk_"), len(token) - 1):
        swapped = (token[:position] + token[position + 1] + token[position]
                   + token[position + 2:])
        if swapped != token:
            assert not tokens.is_well_formed(swapped, tokens.INGEST_PREFIX)


@pytest.mark.parametrize("candidate", [
    "", "mtk_", "mtk_short", tokens.generate("mut"), tokens.generate("mtkx"),
    "MTK_" + tokens.generate("mtk")[4:], " " + tokens.generate("mtk"),
    tokens.generate("mtk") + " ", tokens.generate("mtk")[:-1] + "!",
    "mtk_" + "é" * 38, "mtk_" + "a" * 300,
], ids=["empty", "prefix-only", "short", "user-prefix", "longer-prefix", "upper-case-prefix",
        "leading-blank", "trailing-blank", "punctuation", "non-ascii", "too-long"])
def test_malformed_tokens_are_rejected_without_a_lookup(candidate):
    assert not tokens.is_well_formed(candidate, tokens.INGEST_PREFIX)


def test_created_token_is_stored_only_as_its_digest(db, org):
    row = db.execute("SELECT token_prefix, token_digest, ingest_tokens::text FROM ingest_tokens"
                     " WHERE org_id = %s", (org.org.org_id,)).fetchone()

    assert row[0] == org.token[:12]
    assert bytes(row[1]) == hashlib.sha256(org.token.encode()).digest()
    assert org.token[12:] not in row[2]
    assert org.token[12:] not in row[1].hex()


def test_listing_shows_the_visible_prefix_and_never_the_token(db, org):
    second = orgs.create_ingest_token(db, org.org, "laptop")

    listed = orgs.list_ingest_tokens(db, org.org)

    assert [(item.name, item.token_prefix) for item in listed] == [
        ("test", org.token[:12]), ("laptop", second[:12])]
    assert all(item.revoked_at is None for item in listed)
    assert org.token not in repr(listed) and second not in repr(listed)


@pytest.mark.parametrize("by", ["id", "prefix"])
def test_token_is_revoked_by_id_or_by_its_first_12_characters(db, org, by):
    token_id = orgs.list_ingest_tokens(db, org.org)[0].token_id
    key = str(token_id) if by == "id" else org.token[:12]

    revoked = orgs.revoke_ingest_token(db, org.org, key)

    assert revoked.token_id == token_id
    assert revoked.revoked_at is not None
    assert orgs.resolve_ingest_token(db, org.token).revoked


def test_revoking_twice_keeps_the_first_revocation_time_and_says_so(db, org):
    first = orgs.revoke_ingest_token(db, org.org, org.token[:12])
    with pytest.raises(tokens.AlreadyRevoked) as second:
        orgs.revoke_ingest_token(db, org.org, str(first.token_id))

    assert second.value.revoked_at == first.revoked_at
    assert second.value.prefix == org.token[:12]
    assert orgs.list_ingest_tokens(db, org.org)[0].revoked_at == first.revoked_at


@pytest.mark.parametrize("key", ["999999999", "mtk_00000000", "", "mtk_"])
def test_revoking_an_unknown_id_or_prefix_raises_token_not_found(db, org, key):
    with pytest.raises(orgs.TokenNotFound):
        orgs.revoke_ingest_token(db, org.org, key)


def test_an_org_cannot_revoke_another_orgs_token(db, org, other_org):
    token_id = orgs.list_ingest_tokens(db, other_org.org)[0].token_id

    for key in (str(token_id), other_org.token[:12]):
        with pytest.raises(orgs.TokenNotFound):
            orgs.revoke_ingest_token(db, org.org, key)
    assert not orgs.resolve_ingest_token(db, other_org.token).revoked


def test_resolving_a_token_finds_its_org(db, org, other_org):
    for tenant in (org, other_org):
        resolved = orgs.resolve_ingest_token(db, tenant.token)
        assert resolved.org_id == tenant.org.org_id
        assert not resolved.revoked
    assert orgs.resolve_ingest_token(db, tokens.generate(tokens.INGEST_PREFIX)) is None
