"""The license policy at work: seats counted across the installation, ingestion paused with a
503 and a Retry-After, reads, exports and dashboards untouched, each change audit-logged once.
"""
from __future__ import annotations

import hashlib
import re
import uuid
from contextlib import ExitStack

import pytest

from mojule import license, people, policy, schema
from mojule.db import connect, org_transaction
from tests.conftest import fixture_bytes, ingest_session, make_org, make_user
from tests.ingest_support import app_client
from tests.installation import (  # noqa: F401 (fixtures)
    KEYS,
    installation_audit,
    installation_fixture,
    last_audit_id,
    seat_export,
    signed,
    site_config_fixture,
    site_fixture,
)
from tests.upgrades import install_release_before


def post_seat(client, test_org, **seat: str):
    return client.post("/v1/logs", data=seat_export(**seat), headers=test_org.headers)


def pause_by_hand(conn, reason: str) -> None:
    policy.pause_by_hand(conn, reason, "ops")
    policy.record(conn, policy.evaluate(conn, KEYS), "cli", "ops")


def test_seats_in_use_are_distinct_identities_across_orgs_in_the_last_30_days(site, site_config):
    first, second = make_org(site), make_org(site)
    with app_client(site_config) as client:
        answers = [
            post_seat(client, first, email="Alice@Example.com", account_uuid="acct-a", id="u-a"),
            post_seat(client, second, email="alice@example.com"),      # the same seat
            post_seat(client, first, account_uuid="acct-b", id="u-b"),   # no email
            post_seat(client, second, id="install-c"),                   # the user.id alone
            post_seat(client, first),                                    # no seat identity
        ]
    assert [answer.status_code for answer in answers] == [202] * 5
    assert policy.evaluate(site, KEYS).seats_in_use == 3

    site.execute("UPDATE license_seats SET last_seen = now() - interval '31 days'"
                 " WHERE seat_digest = %s", (hashlib.sha256(b"acct-b").digest(),))
    assert policy.evaluate(site, KEYS).seats_in_use == 2


def registered_seats(conn) -> set[bytes]:
    return {row[0] for row in conn.execute("SELECT seat_digest FROM license_seats")}


def digest(identity: str) -> bytes:
    return hashlib.sha256(identity.encode()).digest()


def test_a_person_counts_once_whichever_of_their_ids_a_session_names(site, site_config):
    # Claude Code leaves user.email off some records, and before 2.1.161 sent only user.id
    # with its metrics: each id counted as a seat of its own, two or three per developer.
    first, second = make_org(site), make_org(site)
    with app_client(site_config) as client:
        assert post_seat(client, first, id="u-a").status_code == 202
        assert registered_seats(site) == {digest("u-a")}
        # The install, then its account, then the account's email: each time one seat.
        assert post_seat(client, first, account_uuid="acct-a", id="u-a").status_code == 202
        assert registered_seats(site) == {digest("acct-a")}
        assert post_seat(client, first, email="Alice@Example.com",
                         account_uuid="acct-a").status_code == 202
        assert registered_seats(site) == {digest("alice@example.com")}
        # Later sessions known by the install or account alone count as her, in any org.
        answers = [post_seat(client, second, id="u-a"),
                   post_seat(client, first, account_uuid="acct-a"),
                   post_seat(client, first, id="u-b")]     # someone else's machine
    assert [answer.status_code for answer in answers] == [202] * 3
    assert registered_seats(site) == {digest("alice@example.com"), digest("u-b")}
    assert policy.evaluate(site, KEYS).seats_in_use == 2


def test_an_id_seen_with_one_seat_stays_with_it(site, site_config):
    # A machine two people sign in on counts under the first; each person still counts.
    test_org = make_org(site)
    with app_client(site_config) as client:
        for email in ("alice@example.com", "bob@example.com"):
            assert post_seat(client, test_org, email=email, id="shared").status_code == 202
        assert post_seat(client, test_org, id="shared").status_code == 202
    assert registered_seats(site) == {digest("alice@example.com"), digest("bob@example.com")}
    (target,) = site.execute("SELECT seat_digest FROM license_seat_aliases"
                             " WHERE alias_digest = %s", (digest("shared"),)).fetchone()
    assert target == digest("alice@example.com")


def test_an_id_registered_beside_the_ingest_that_aliased_it_goes_with_the_next_session(
        site, site_config):
    # Two ingests at once: one registers a session known by the install alone while the
    # other notes the install as Alice's; the first's row was not there for the second to
    # fold, so it is folded when a session names them together again.
    test_org = make_org(site)
    site.execute("INSERT INTO license_seat_aliases VALUES (%s, %s)",
                 (digest("u-a"), digest("alice@example.com")))
    site.execute("INSERT INTO license_seats (seat_digest, last_seen) VALUES (%s, now()),"
                 " (%s, now())", (digest("u-a"), digest("alice@example.com")))
    with app_client(site_config) as client:
        answer = post_seat(client, test_org, email="alice@example.com", id="u-a")
    assert answer.status_code == 202
    assert registered_seats(site) == {digest("alice@example.com")}


def test_the_seat_register_needs_no_grant_to_the_app_role(site, site_config):
    # init-db grants the app role the tables a migration made only after the last
    # migration; ingest goes on meanwhile, and if init-db stops there.
    test_org = make_org(site)
    site.execute(f"REVOKE ALL ON license_seat_aliases FROM {schema.APP_ROLE}")
    try:
        with app_client(site_config) as client:
            answer = post_seat(client, test_org, email="alice@example.com", id="u-a")
    finally:
        schema.ensure_app_role(site)
    assert answer.status_code == 202
    assert registered_seats(site) == {digest("alice@example.com")}
    assert site.execute("SELECT seat_digest FROM license_seat_aliases WHERE alias_digest = %s",
                        (digest("u-a"),)).fetchone() == (digest("alice@example.com"),)


def forge_session(conn, org_id: int, session_id: str, seat: str, install: str | None,
                  email: str | None = None) -> None:
    """Store a session row as the release before a migration would have (in an org
    transaction: the test connection is superuser, so the SQL names org_id)."""
    conn.execute("INSERT INTO sessions (org_id, session_id, seat_identity, user_email,"
                 " user_id, first_seen, last_seen) VALUES (%s, %s, %s, %s, %s, now(), now())",
                 (org_id, session_id, seat, email, install))


def last_seen_days_ago(conn, days_by_identity: dict[str, int]) -> None:
    """Date each identity's license seat back to its last sighting that many days ago."""
    for identity, days in days_by_identity.items():
        conn.execute("UPDATE license_seats SET last_seen = now() - make_interval(days => %s)"
                     " WHERE seat_digest = %s", (days, digest(identity)))


def test_migration_0024_folds_the_ids_already_registered_into_their_seats(
        fresh_database_url, monkeypatch):
    install_release_before(fresh_database_url, 24, monkeypatch)
    with connect(fresh_database_url) as conn:
        org_id = make_org(conn).org.org_id
        with org_transaction(conn, org_id):
            forge_session(conn, org_id, "s1", "alice@example.com", "u-a",
                          email="alice@example.com")
            forge_session(conn, org_id, "s2", "u-a", "u-a")
            forge_session(conn, org_id, "s3", "u-b", "u-b")
        # Alice was last seen under her email 40 days ago, under her install yesterday.
        last_seen_days_ago(conn, {"alice@example.com": 40, "u-a": 1, "u-b": 2})

        schema.apply_migrations(conn)

        seen = dict(conn.execute("SELECT seat_digest, (now() - last_seen) > interval '1 day'"
                                 " + interval '1 hour' FROM license_seats").fetchall())
    assert seen == {digest("alice@example.com"): False, digest("u-b"): True}


def test_migration_0025_puts_enduser_emails_in_lower_case_and_folds_their_seats(
        fresh_database_url, monkeypatch):
    install_release_before(fresh_database_url, 25, monkeypatch)
    with connect(fresh_database_url) as conn:
        org_id = make_org(conn).org.org_id
        with org_transaction(conn, org_id):
            # Carol's enduser.id as her directory spells it, then as typed later; Dan's
            # install id holds an '@' and is left as sent.
            for session_id, seat, install in (("s1", "Carol@Example.com", "u-c"),
                                              ("s2", "carol@example.com", None),
                                              ("s3", "Dan@Host", "Dan@Host")):
                forge_session(conn, org_id, session_id, seat, install)
                conn.execute("SELECT mojule_ensure_partition('log_events', current_date)")
                conn.execute("INSERT INTO log_events (org_id, time, record_id, time_unix_nano,"
                             " session_id, event_name, seat_identity, user_id, attributes,"
                             " resource_attributes) VALUES (%s, now(), %s, 1, %s, 'x', %s,"
                             " %s, '{}', '{}')",
                             (org_id, session_id.encode(), session_id, seat, install))
        last_seen_days_ago(conn, {"Carol@Example.com": 3, "carol@example.com": 20,
                                  "Dan@Host": 5})

        schema.apply_migrations(conn)

        with org_transaction(conn, org_id):
            seats = conn.execute("SELECT session_id, seat_identity FROM sessions"
                                 " ORDER BY 1").fetchall()
            events = conn.execute("SELECT session_id, seat_identity FROM log_events"
                                  " ORDER BY 1").fetchall()
        registered = dict(conn.execute("SELECT seat_digest, round(extract(epoch FROM now()"
                                       " - last_seen) / 86400) FROM license_seats").fetchall())
        install = conn.execute("SELECT mojule_seat_digest(%s)", (digest("u-c"),)).fetchone()[0]
    expected = [("s1", "carol@example.com"), ("s2", "carol@example.com"), ("s3", "Dan@Host")]
    assert seats == expected and events == expected
    # Carol is one seat, last seen 3 days ago (the rewrite did not count as a sighting).
    assert registered == {digest("carol@example.com"): 3, digest("Dan@Host"): 5}
    assert install == digest("carol@example.com")


def test_without_a_license_the_sixth_seat_pauses_ingestion_once_for_every_worker(site,
                                                                                site_config):
    test_org = make_org(site)
    before = last_audit_id(site)
    with app_client(site_config) as worker, app_client(site_config) as other_worker:
        allowed = [post_seat(worker, test_org, email=f"dev{n}@example.com").status_code
                   for n in range(1, 7)]
        refused = [post_seat(worker, test_org, email="dev1@example.com"),
                   post_seat(other_worker, test_org, email="dev2@example.com"),
                   post_seat(worker, test_org, email="dev3@example.com")]

        license.install(site, signed(seats=10), KEYS, "ops")
        resumed = post_seat(other_worker, test_org, email="dev1@example.com")

    # The sixth seat's own export is stored: the policy decided before it arrived.
    assert allowed == [202] * 6
    assert [answer.status_code for answer in refused] == [503] * 3
    assert "the evaluation allowance (no license installed)" in refused[0].get_json()["message"]
    assert resumed.status_code == 202
    changes = [(row["action"], row["actor_type"], row["actor_id"])
               for row in installation_audit(site, before) if row["action"].startswith("ingest.")]
    assert changes == [("ingest.pause", "system", policy.POLICY_ACTOR),
                       ("ingest.resume", "system", policy.POLICY_ACTOR)]


def test_paused_ingest_gets_503_with_a_long_retry_after_and_writes_nothing(site, site_config):
    test_org = make_org(site)
    pause_by_hand(site, "storage migration")
    with app_client(site_config) as client:
        paused = client.post("/v1/logs", data=fixture_bytes("bash-tool", "logs"),
                             headers=test_org.headers)
        no_token = client.post("/v1/traces", data=b"{}",
                               headers={"Content-Type": "application/json"})
        bad_token = client.post("/v1/metrics", data=b"{}", headers={
            "Authorization": "Bearer mtk_not_a_token", "Content-Type": "application/json"})
        # An exporter sending protobuf is told to switch, not to come back later.
        protobuf = client.post("/v1/logs", data=b"\x0a\x00", headers={
            **test_org.headers, "Content-Type": "application/x-protobuf"})

    assert paused.status_code == 503
    assert paused.headers["Retry-After"] == str(policy.PAUSED_RETRY_AFTER_SECONDS)
    body = paused.get_json()
    assert body["error"] == "ingestion_paused" and body["code"] == 14
    assert "paused by hand (storage migration)" in body["message"]
    assert "Dashboards and exports stay available" in body["message"]
    assert (no_token.status_code, bad_token.status_code) == (401, 401)
    assert protobuf.status_code == 415 and "http/json" in protobuf.get_json()["message"]
    assert site.execute("SELECT count(*) FROM log_events WHERE org_id = %s",
                        (test_org.org.org_id,)).fetchone()[0] == 0


def test_reads_exports_and_dashboards_keep_working_while_paused(site, site_config):
    test_org = make_org(site)
    admin = make_user(site, test_org, "admin@example.com", "admin")
    people.set_password(site, admin.user, "a long enough password")
    with app_client(site_config) as client:
        session_id = ingest_session(client, test_org, "bash-tool")
        pause_by_hand(site, "license review")

        assert post_seat(client, test_org, email="dev@example.com").status_code == 503
        assert client.get("/api/v1/audit", headers=admin.headers).status_code == 200
        assert client.get(f"/api/v1/sessions/{session_id}/content",
                          headers=admin.headers).status_code == 200
        assert client.get("/api/v1/export/usage.csv", headers=admin.headers).status_code == 200
        form = client.get("/sign-in").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
        signed_in = client.post("/sign-in", data={
            "org": test_org.org.slug, "email": "admin@example.com",
            "password": "a long enough password", "csrf_token": csrf})
        overview = client.get("/")

    assert signed_in.status_code == 302
    assert overview.status_code == 200
    assert 'data-testid="paused-banner"' in overview.get_data(as_text=True)


def test_each_worker_reuses_its_decision_for_the_check_interval(site, monkeypatch):
    evaluations = []
    real_evaluate = policy.evaluate
    monkeypatch.setattr(policy, "evaluate", lambda conn, keys: evaluations.append(1) or
                        real_evaluate(conn, keys))
    now = [1000.0]
    worker = policy.IngestPolicy(KEYS, ttl=15, clock=lambda: now[0])

    worker.check(site)
    now[0] += 14.9
    pause_by_hand(site, "maintenance")
    worker.check(site)                       # still the cached "running"
    now[0] += 0.2

    with pytest.raises(policy.IngestionPaused):
        worker.check(site)
    assert len(evaluations) == 3             # two by the worker, one by pause_by_hand


def test_two_ingests_registering_new_seats_in_opposite_order_never_wait_on_each_other(
        site, installation):
    # Each transaction registers a seat the other is registering at the same time. Were the
    # register to wait for the other's insert, the two would deadlock and one ingest would
    # fail; lock_timeout turns any such wait into an error here instead of a hang.
    org_id = make_org(site).org.org_id

    def add_session(conn, seat: str) -> None:
        conn.execute("INSERT INTO sessions (org_id, session_id, seat_identity, first_seen,"
                     " last_seen) VALUES (%s, %s, %s, now(), now())",
                     (org_id, f"s-{uuid.uuid4()}", seat))

    with ExitStack() as stack:
        first, second = (stack.enter_context(connect(installation.app_url)) for _ in range(2))
        for conn in (first, second):
            stack.enter_context(conn.transaction())
            conn.execute("SELECT set_config('mojule.org_id', %s, true),"
                         " set_config('lock_timeout', '2s', true)", (str(org_id),))
        add_session(first, "seat-a")
        add_session(second, "seat-b")
        add_session(first, "seat-b")
        add_session(second, "seat-a")

    digests = {row[0] for row in site.execute("SELECT seat_digest FROM license_seats")}
    assert digests == {hashlib.sha256(b"seat-a").digest(), hashlib.sha256(b"seat-b").digest()}
    assert policy.evaluate(site, KEYS).seats_in_use == 2
