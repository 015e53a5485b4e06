"""The on-prem license: its file and signature, the policy matrix, and the CLI."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mojule import keyring, license, orgs, policy
from mojule.cli import cli
from mojule.crypto import generate_master_key, load_master_key
from mojule.license import MalformedLicense, UntrustedSignature
from tests.installation import (  # noqa: F401 (fixtures)
    KEYS,
    SIGNING_KEY,
    SIGNING_PUBLIC,
    fields,
    installation_audit,
    installation_fixture,
    last_audit_id,
    signed,
    site_env_fixture,
    site_fixture,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def expiring(moment: datetime) -> str:
    """A license file whose not_after is ``moment``."""
    return signed(not_after=moment.isoformat())


# The license matrix -------------------------------------------------------------------


def test_a_valid_license_verifies_and_ingestion_runs():
    found = license.verify(signed(), KEYS)
    decision = policy.decide(found, 50, NOW)
    assert found == license.License("lic-test-0001", "Example Corp", 50,
                                    datetime(2026, 1, 1, tzinfo=UTC),
                                    datetime(2027, 1, 1, tzinfo=UTC))
    assert not decision.paused and decision.reasons == () and decision.notes == ()


def test_an_expired_license_keeps_ingestion_running_through_the_grace_period():
    found = license.verify(expiring(NOW - timedelta(days=14) + timedelta(minutes=1)), KEYS)
    decision = policy.decide(found, 10, NOW)
    assert not decision.paused
    assert any("expired" in note and "unless a renewed license" in note for note in decision.notes)


def test_a_license_expired_more_than_14_days_ago_pauses_ingestion():
    found = license.verify(expiring(NOW - timedelta(days=14, minutes=1)), KEYS)
    decision = policy.decide(found, 10, NOW)
    assert decision.paused
    assert decision.reasons == ("the license expired on 2026-11-12, more than 14 days ago",)


@pytest.mark.parametrize("in_use, paused", [(50, False), (55, False), (56, True)])
def test_seats_may_exceed_the_license_by_10_percent_before_ingestion_pauses(in_use, paused):
    decision = policy.decide(license.verify(signed(), KEYS), in_use, NOW)
    assert decision.paused is paused
    assert decision.seat_limit == 55
    if paused:
        assert "more seats are in use than the license allows" in decision.reason
    elif in_use > 50:
        assert "pauses above 55" in decision.notes[0]


def test_a_tampered_license_is_refused():
    document = json.loads(signed())
    document["license"]["seats"] = 5000
    with pytest.raises(UntrustedSignature):
        license.verify(json.dumps(document), KEYS)


def test_a_license_signed_by_an_unknown_key_is_refused():
    with pytest.raises(UntrustedSignature):
        license.verify(signed(Ed25519PrivateKey.generate()), KEYS)
    with pytest.raises(UntrustedSignature):
        license.verify(signed(), license.trusted_keys())


@pytest.mark.parametrize("in_use, paused", [(5, False), (6, True)])
def test_without_a_license_the_evaluation_allowance_is_5_seats(in_use, paused):
    decision = policy.decide(None, in_use, NOW)
    assert decision.paused is paused
    assert decision.seats_licensed == 5 and decision.seat_limit == 5
    if paused:
        assert "the evaluation allowance (no license installed)" in decision.reason


def test_a_manual_pause_pauses_whatever_the_license_says():
    manual = policy.ManualPause("storage migration", "ops", NOW)
    decision = policy.decide(license.verify(signed(), KEYS), 1, NOW, manual)
    assert decision.paused and decision.reasons == ("paused by hand (storage migration)",)


def test_what_is_signed_is_the_parsed_license_not_the_file_bytes():
    # Spacing, key order and non-ASCII text do not matter; the fields used are those signed.
    document = json.loads(signed(licensee="Zürich Ärzte AG"))
    reordered = {"signature": document["signature"],
                 "license": dict(reversed(list(document["license"].items())))}
    found = license.verify(json.dumps(reordered, indent=4, ensure_ascii=False), KEYS)
    assert found.licensee == "Zürich Ärzte AG"


def test_the_built_in_vendor_key_is_always_trusted():
    vendor = base64.b64decode(license.VENDOR_PUBLIC_KEY)
    assert [key.public_bytes(Encoding.Raw, PublicFormat.Raw) for key in KEYS] == \
        [vendor, SIGNING_PUBLIC]


@pytest.mark.parametrize("document, problem", [
    ("not json", "not JSON"),
    (json.dumps({"license": fields()}), '"signature" string'),
    (json.dumps({"license": fields(), "signature": "***"}), "not base64"),
    (json.dumps({"license": fields(), "signature": "c2hvcnQ="}), "64 bytes"),
    (license.sign({k: v for k, v in fields().items() if k != "seats"}, SIGNING_KEY), "lacks seats"),
    (signed(seats=True), "positive whole number"),
    (signed(seats=0), "positive whole number"),
    (signed(licensee=""), "licensee"),
    (signed(not_after="2027-01-01"), "with a zone"),
    (signed(not_after="2025-01-01T00:00:00Z"), "before it was issued"),
    (signed(not_after="9999-12-31T23:59:59-14:00"), "between the years"),
])
def test_a_malformed_license_is_refused_saying_what_is_wrong(document, problem):
    with pytest.raises(MalformedLicense, match=problem):
        license.verify(document, KEYS)


def run(env: dict, *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


# The CLI --------------------------------------------------------------------------------


def test_license_install_stores_the_license_audits_it_and_status_shows_it(site, site_env, tmp_path):
    path = tmp_path / "license.json"
    path.write_text(signed(not_after="2099-01-01T00:00:00Z"))
    before = last_audit_id(site)

    installed = run(site_env, "license", "install", str(path))
    status = run(site_env, "license", "status")

    assert installed.exit_code == 0, installed.output
    assert site.execute("SELECT license_id, seats FROM licenses").fetchall() == \
        [("lic-test-0001", 50)]
    (row,) = installation_audit(site, before)
    assert (row["action"], row["actor_type"], row["target_id"]) == \
        ("license.install", "cli", "lic-test-0001")
    assert status.exit_code == 0, status.output
    assert "Example Corp (license lic-test-0001" in status.output
    assert "0 in use in the last 30 days, 50 licensed (ingestion pauses above 55)" in status.output
    assert "2099-01-01 00:00 UTC" in status.output and "ingestion: running" in status.output


@pytest.mark.parametrize("document, message", [
    (json.dumps(json.loads(signed()) | {"license": fields(seats=9999)}), "does not verify"),
    (signed(Ed25519PrivateKey.generate()), "does not verify"),
    ('{"license": ', "not JSON"),
    ("[" * 200_000, "not JSON"),        # deeper than the parser recurses
])
def test_license_install_refuses_a_bad_file_clearly_and_stores_nothing(site, site_env, tmp_path,
                                                                      document, message):
    path = tmp_path / "license.json"
    path.write_text(document)
    result = run(site_env, "license", "install", str(path))
    assert result.exit_code == 1
    assert message in result.output and "license.json" in result.output
    assert site.execute("SELECT count(*) FROM licenses").fetchone()[0] == 0


def test_ingest_pause_and_resume_by_hand_are_audit_logged(site, site_env):
    before = last_audit_id(site)

    paused = run(site_env, "ingest", "pause", "--reason", "storage migration")
    status = run(site_env, "license", "status")
    resumed = run(site_env, "ingest", "resume")
    again = run(site_env, "ingest", "resume")

    assert paused.exit_code == 0 and resumed.exit_code == 0 and again.exit_code == 0
    assert status.exit_code == 1
    assert "ingestion: paused: paused by hand (storage migration)" in status.output
    assert "was not paused by hand" in again.output
    rows = installation_audit(site, before)
    assert [(row["action"], row["actor_type"], row["reason"]) for row in rows] == [
        ("ingest.pause", "cli", "paused by hand (storage migration)"),
        ("ingest.resume", "cli", None)]
    assert license.ingestion_state(site).paused is False


def test_status_says_ingestion_is_refused_under_a_master_key_that_opens_no_stored_key(
        site, site_env, master_key):
    slug = f"keys-{uuid.uuid4().hex[:8]}"
    assert run(site_env, "org", "create", slug).exit_code == 0
    try:
        # The org's first data key, as its first content would make it.
        keyring.create_data_key(site, load_master_key(master_key),
                                orgs.find_org(site, slug).org_id)
        wrong_key = run({**site_env, "MOJULE_MASTER_KEY": generate_master_key()},
                        "license", "status")
        right_key = run(site_env, "license", "status")
    finally:
        site.execute("DELETE FROM orgs WHERE slug = %s", (slug,))

    assert wrong_key.exit_code == 1
    assert "ingestion: refused (503) for orgs whose keys are wrapped by master key" \
        in wrong_key.output
    assert right_key.exit_code == 0 and "ingestion: running" in right_key.output


def test_license_install_refuses_an_expired_license_and_keeps_the_one_in_force(
        site, site_env, tmp_path):
    # It would replace the license in force and, past its grace, pause every org's ingest.
    path = tmp_path / "license.json"
    path.write_text(expiring(datetime.now(UTC) - timedelta(days=30)))
    before = site.execute("SELECT count(*) FROM licenses").fetchone()[0]

    result = run(site_env, "license", "install", str(path))

    assert result.exit_code == 1 and "expired on" in result.output
    assert site.execute("SELECT count(*) FROM licenses").fetchone()[0] == before
    assert license.ingestion_state(site).paused is False


def test_resume_says_so_when_the_license_policy_still_pauses(site, site_env):
    license.install(site, expiring(datetime.now(UTC) - timedelta(days=30)), KEYS, "ops")
    run(site_env, "ingest", "pause", "--reason", "audit")

    resumed = run(site_env, "ingest", "resume")

    assert resumed.exit_code == 1
    assert "ingestion stays paused: the license expired on" in resumed.output
    assert site.execute("SELECT count(*) FROM ingest_pause").fetchone()[0] == 0


def test_a_stored_license_is_verified_again_when_loaded(site, site_env, tmp_path):
    path = tmp_path / "license.json"
    path.write_text(signed())
    assert run(site_env, "license", "install", str(path)).exit_code == 0
    site.execute("""UPDATE licenses SET document = replace(document, '"seats": 50', '"seats": 500')""")

    decision = policy.evaluate(site, KEYS)

    assert decision.license is None and decision.seats_licensed == policy.EVALUATION_SEATS
    assert "the installed license does not verify" in decision.notes[0]
