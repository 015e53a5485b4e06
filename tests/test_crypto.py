"""Envelope encryption: nonces, AAD binding, no plaintext fallback, master key handling."""
import base64
import hashlib
import hmac
import os

import pytest

from mojule.crypto import (
    ContentCipher,
    InvalidMasterKey,
    KeyUnwrapError,
    MasterKey,
    TamperedContent,
    content_aad,
    generate_master_key,
    load_master_key,
    new_data_key,
    unwrap_data_key,
    unwrap_data_key_any,
    wrap_data_key,
)

RECORD_ID = bytes(range(16))
CONTEXT = {
    "org_id": 7, "signal": "logs", "record_id": RECORD_ID, "attribute": "prompt", "dek_id": 3,
}
PLAINTEXT = b'"rm -rf build && make test"'


@pytest.fixture
def cipher():
    """A ContentCipher over a fresh data key with dek_id 3 (as in CONTEXT)."""
    return ContentCipher(new_data_key(), dek_id=3)


@pytest.fixture
def master():
    """A freshly generated master key."""
    return load_master_key(generate_master_key())


def test_encrypt_then_decrypt_returns_the_plaintext(cipher):
    aad = content_aad(**CONTEXT)
    assert cipher.decrypt(cipher.encrypt(PLAINTEXT, aad), aad) == PLAINTEXT


def test_empty_value_round_trips(cipher):
    aad = content_aad(**CONTEXT)
    assert cipher.decrypt(cipher.encrypt(b"", aad), aad) == b""


def test_ciphertext_is_version_nonce_ciphertext_and_tag_without_the_plaintext(cipher):
    blob = cipher.encrypt(PLAINTEXT, content_aad(**CONTEXT))
    assert blob[:1] == b"\x01"
    assert len(blob) == 1 + 12 + len(PLAINTEXT) + 16
    assert PLAINTEXT not in blob


def test_same_plaintext_encrypted_10000_times_gives_distinct_nonces_and_ciphertexts(cipher):
    aad = content_aad(**CONTEXT)
    blobs = [cipher.encrypt(PLAINTEXT, aad) for _ in range(10_000)]
    assert len({blob[1:13] for blob in blobs}) == 10_000
    assert len({blob[13:] for blob in blobs}) == 10_000


def test_encryptions_counts_every_encrypt_call(cipher):
    aad = content_aad(**CONTEXT)
    for _ in range(5):
        cipher.encrypt(PLAINTEXT, aad)
    assert cipher.encryptions == 5


@pytest.mark.parametrize(
    "field, other",
    [
        ("org_id", 8),
        ("signal", "traces"),
        ("record_id", bytes(range(1, 17))),
        ("attribute", "command"),
        ("dek_id", 4),
    ],
)
def test_decrypt_in_another_org_signal_row_attribute_or_dek_id_raises_tampered(
    cipher, field, other
):
    blob = cipher.encrypt(PLAINTEXT, content_aad(**CONTEXT))
    with pytest.raises(TamperedContent):
        cipher.decrypt(blob, content_aad(**{**CONTEXT, field: other}))


def test_decrypt_with_another_data_key_raises_tampered(cipher):
    aad = content_aad(**CONTEXT)
    blob = cipher.encrypt(PLAINTEXT, aad)
    with pytest.raises(TamperedContent):
        ContentCipher(new_data_key(), dek_id=3).decrypt(blob, aad)


def test_flipping_any_bit_of_any_byte_raises_tampered(cipher):
    aad = content_aad(**CONTEXT)
    blob = cipher.encrypt(PLAINTEXT, aad)
    for position in range(len(blob)):
        for bit in range(8):
            flipped = bytearray(blob)
            flipped[position] ^= 1 << bit
            with pytest.raises(TamperedContent):
                cipher.decrypt(bytes(flipped), aad)


def test_truncated_or_extended_ciphertext_raises_tampered(cipher):
    aad = content_aad(**CONTEXT)
    blob = cipher.encrypt(PLAINTEXT, aad)
    for broken in (blob[:-1], blob[:29], blob[:28], blob[:1], blob + b"\x00"):
        with pytest.raises(TamperedContent):
            cipher.decrypt(broken, aad)


@pytest.mark.parametrize(
    "stored",
    [PLAINTEXT, b"", b"\x01", b"\x02" + bytes(40), b"\x00" + bytes(40), b"a text value" * 5],
)
def test_plaintext_or_unknown_version_is_never_returned_and_raises_tampered(cipher, stored):
    with pytest.raises(TamperedContent):
        cipher.decrypt(stored, content_aad(**CONTEXT))


def test_content_aad_fields_cannot_shift_into_each_other():
    record = RECORD_ID
    assert content_aad(1, "logs", record, "ab", 2) != content_aad(1, "logs", record + b"a", "b", 2)
    assert content_aad(1, "logs", record, "a", 12) != content_aad(1, "logs", record, "a1", 2)
    assert content_aad(11, "logs", record, "a", 2) != content_aad(1, "logs", record, "a", 12)


def test_content_aad_rejects_an_unknown_signal():
    with pytest.raises(ValueError, match="signal"):
        content_aad(**{**CONTEXT, "signal": "profiles"})


def test_content_cipher_refuses_a_key_that_is_not_32_bytes():
    with pytest.raises(ValueError):
        ContentCipher(os.urandom(16), dek_id=1)


def test_wrapped_data_key_unwraps_for_its_org_and_dek_id(master):
    dek = new_data_key()
    wrapped = wrap_data_key(master, dek, org_id=1, dek_id=10)
    assert wrapped[:1] == b"\x01"
    assert dek not in wrapped
    assert unwrap_data_key(master, wrapped, org_id=1, dek_id=10) == dek


def test_wrapped_data_keys_swapped_between_orgs_fail_to_unwrap(master):
    wrapped_a = wrap_data_key(master, new_data_key(), org_id=1, dek_id=10)
    wrapped_b = wrap_data_key(master, new_data_key(), org_id=2, dek_id=11)
    with pytest.raises(KeyUnwrapError):
        unwrap_data_key(master, wrapped_a, org_id=2, dek_id=11)
    with pytest.raises(KeyUnwrapError):
        unwrap_data_key(master, wrapped_b, org_id=1, dek_id=10)
    with pytest.raises(KeyUnwrapError):
        unwrap_data_key(master, wrapped_a, org_id=2, dek_id=10)


def test_wrapped_data_key_under_another_dek_id_fails_to_unwrap(master):
    wrapped = wrap_data_key(master, new_data_key(), org_id=1, dek_id=10)
    with pytest.raises(KeyUnwrapError):
        unwrap_data_key(master, wrapped, org_id=1, dek_id=11)


def test_unwrap_with_the_wrong_master_key_fails(master):
    wrapped = wrap_data_key(master, new_data_key(), org_id=1, dek_id=10)
    with pytest.raises(KeyUnwrapError):
        unwrap_data_key(load_master_key(generate_master_key()), wrapped, org_id=1, dek_id=10)


def test_tampered_or_unversioned_wrapped_data_key_fails_to_unwrap(master):
    dek = new_data_key()
    wrapped = wrap_data_key(master, dek, org_id=1, dek_id=10)
    for position in range(len(wrapped)):
        flipped = bytearray(wrapped)
        flipped[position] ^= 0x01
        with pytest.raises(KeyUnwrapError):
            unwrap_data_key(master, bytes(flipped), org_id=1, dek_id=10)
    for broken in (dek, b"", wrapped[:-1], b"\x02" + wrapped[1:]):
        with pytest.raises(KeyUnwrapError):
            unwrap_data_key(master, broken, org_id=1, dek_id=10)


def test_unwrap_any_with_the_previous_master_works_and_reports_which_key_did_it(master):
    current = load_master_key(generate_master_key())
    dek = new_data_key()
    wrapped = wrap_data_key(master, dek, org_id=1, dek_id=10)
    assert unwrap_data_key_any([current, master], wrapped, org_id=1, dek_id=10) == (dek, master)
    rewrapped = wrap_data_key(current, dek, org_id=1, dek_id=10)
    assert unwrap_data_key_any([current, master], rewrapped, org_id=1, dek_id=10) == (dek, current)


def test_unwrap_any_with_no_matching_master_names_the_key_ids_tried(master):
    wrapped = wrap_data_key(master, new_data_key(), org_id=1, dek_id=10)
    other = load_master_key(generate_master_key())
    with pytest.raises(KeyUnwrapError, match=other.key_id):
        unwrap_data_key_any([other], wrapped, org_id=1, dek_id=10)
    with pytest.raises(KeyUnwrapError):
        unwrap_data_key_any([], wrapped, org_id=1, dek_id=10)


def test_wrap_refuses_a_data_key_that_is_not_32_bytes(master):
    with pytest.raises(ValueError):
        wrap_data_key(master, os.urandom(31), org_id=1, dek_id=10)


def test_generated_master_key_loads_and_each_one_is_new():
    first, second = generate_master_key(), generate_master_key()
    assert first != second
    assert len(base64.b64decode(first, validate=True)) == 32
    assert load_master_key(first).key_id != load_master_key(second).key_id


def test_load_master_key_ignores_surrounding_whitespace():
    text = generate_master_key()
    assert load_master_key(f"  {text}\n").key_id == load_master_key(text).key_id


def test_key_id_is_the_first_16_hex_of_hmac_sha256_of_a_fixed_label():
    key = os.urandom(32)
    expected = hmac.new(key, b"mojule/kek-id/v1", hashlib.sha256).hexdigest()[:16]
    assert MasterKey(key).key_id == expected
    assert load_master_key(base64.b64encode(key).decode()).key_id == expected


def _b64(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode()


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        (None, "is empty"),
        (_b64(32)[:-2] + "!!", "is not valid base64"),
        (_b64(32).rstrip("="), "is not valid base64"),
        (base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(), "is not valid base64"),
        (_b64(31), "decodes to 31 bytes, not 32"),
        (_b64(33), "decodes to 33 bytes, not 32"),
        (_b64(16), "decodes to 16 bytes, not 32"),
    ],
    ids=["empty", "blank", "unset", "bad-character", "no-padding", "urlsafe", "31-bytes",
         "33-bytes", "16-bytes"],
)
def test_load_master_key_rejects_bad_text_naming_the_variable_and_the_problem(text, problem):
    with pytest.raises(InvalidMasterKey) as caught:
        load_master_key(text, "MOJULE_MASTER_KEY_PREVIOUS")
    message = str(caught.value)
    assert message.startswith(f"MOJULE_MASTER_KEY_PREVIOUS {problem}.")
    # Nothing chained: a traceback must not drag in a decoder error about the key text.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


@pytest.mark.parametrize("size", [31, 33])
def test_master_key_errors_contain_no_key_material(size):
    key = os.urandom(size)
    text = base64.b64encode(key).decode()
    for candidate in (text, text[:-2] + "!!"):
        with pytest.raises(InvalidMasterKey) as caught:
            load_master_key(candidate)
        message = str(caught.value)
        assert not _shares_a_substring(message, candidate, 6)
        assert not _shares_a_substring(message, key.hex(), 6)
        assert key[:4] not in message.encode("latin-1")


def test_repr_of_master_key_shows_only_the_key_id():
    key = os.urandom(32)
    text = base64.b64encode(key).decode()
    master = load_master_key(text)
    shown = repr(master) + str(master)
    assert shown.count(master.key_id) == 2
    assert not _shares_a_substring(shown.replace(master.key_id, ""), text, 6)
    assert key.hex() not in shown
    assert repr(key)[2:-1] not in shown
    assert not hasattr(master, "__dict__")


def _shares_a_substring(haystack: str, secret: str, length: int) -> bool:
    """True if any ``length``-character piece of ``secret`` appears in ``haystack``."""
    return any(secret[i:i + length] in haystack for i in range(len(secret) - length + 1))
