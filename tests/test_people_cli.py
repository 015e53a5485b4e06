"""``mojule user ...``: people, passwords, linked identities and personal access tokens."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from mojule import people, tokens
from mojule.cli import cli
from tests.conftest import ingest_session


def run(env: dict, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), env=env, input=input)


def test_user_lifecycle_from_the_cli(db, org, cli_env):
    slug = org.org.slug
    assert run(cli_env, "user", "create", "--org", slug, "--email", "Dev@Example.com",
               "--role", "admin").exit_code == 0
    listing = run(cli_env, "user", "list", "--org", slug).output
    assert "dev@example.com" in listing and "admin" in listing

    created = run(cli_env, "user", "token", "--org", slug, "--email", "dev@example.com")
    token = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"mut_[0-9A-Za-z]{38,}", token)
    assert tokens.is_well_formed(token, tokens.USER_PREFIX)
    assert token not in run(cli_env, "user", "tokens", "--org", slug, "--email",
                            "dev@example.com").output

    revoked = run(cli_env, "user", "token-revoke", "--org", slug, "--email", "dev@example.com",
                  token[:12])
    assert revoked.exit_code == 0
    assert people.resolve_user_token(db, token).revoked
    again = run(cli_env, "user", "token-revoke", "--org", slug, "--email", "dev@example.com",
                token[:12])
    assert again.exit_code == 0 and "revoked already" in again.output
    assert db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s"
                      " AND action = 'user_token.revoke'", (org.org.org_id,)).fetchone()[0] == 1

    # The org's only admin stays until another admin is made.
    assert run(cli_env, "user", "create", "--org", slug, "--email", "lead@example.com",
               "--role", "admin").exit_code == 0
    deleted = run(cli_env, "user", "delete", "--org", slug, "--email", "dev@example.com")
    assert deleted.exit_code == 0
    assert [found.email for found in people.list_users(db, org.org.org_id)] == ["lead@example.com"]


@pytest.mark.parametrize("change", [("delete",), ("set-role", "--role", "analyst"),
                                    ("set-role", "--role", "member")])
def test_the_orgs_only_admin_is_neither_removed_nor_demoted(db, org, cli_env, change):
    slug = org.org.slug
    run(cli_env, "user", "create", "--org", slug, "--email", "only@example.com", "--role", "admin")
    run(cli_env, "user", "create", "--org", slug, "--email", "dev@example.com")
    audited = db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                         (org.org.org_id,)).fetchone()[0]

    refused = run(cli_env, "user", change[0], "--org", slug, "--email", "only@example.com",
                  *change[1:])

    assert refused.exit_code == 1
    assert "only admin" in refused.stderr and "another admin first" in refused.stderr
    users = {found.email: found.role for found in people.list_users(db, org.org.org_id)}
    assert users == {"only@example.com": "admin", "dev@example.com": "member"}
    assert db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == audited
    # A member goes as before, and with a second admin the first may go too.
    assert run(cli_env, "user", change[0], "--org", slug, "--email", "dev@example.com",
               *change[1:]).exit_code == 0
    run(cli_env, "user", "create", "--org", slug, "--email", "next@example.com", "--role", "admin")
    assert run(cli_env, "user", change[0], "--org", slug, "--email", "only@example.com",
               *change[1:]).exit_code == 0


def test_a_user_token_made_to_expire_is_refused_once_it_has(client, db, org, cli_env):
    slug = org.org.slug
    run(cli_env, "user", "create", "--org", slug, "--email", "ci@example.com")
    created = run(cli_env, "user", "token", "--org", slug, "--email", "ci@example.com",
                  "--name", "nightly", "--expires-in", "2h")
    token = created.stdout.strip().splitlines()[-1]
    (listed,) = people.list_user_tokens(db, people.find_user(db, org.org.org_id, "ci@example.com"))
    headers = {"Authorization": f"Bearer {token}"}

    assert created.exit_code == 0 and "expires" in created.stderr
    assert 7190 < (listed.expires_at - listed.created_at).total_seconds() <= 7200
    assert client.get("/api/v1/usage", headers=headers).status_code == 200
    assert run(cli_env, "user", "token", "--org", slug, "--email", "ci@example.com",
               "--expires-in", "0d").exit_code == 2

    db.execute("UPDATE user_tokens SET expires_at = now() - interval '1 second',"
               " last_used_at = NULL WHERE org_id = %s AND token_id = %s",
               (org.org.org_id, listed.token_id))

    assert client.get("/api/v1/usage", headers=headers).status_code == 401
    (expired,) = people.list_user_tokens(db, people.find_user(db, org.org.org_id,
                                                              "ci@example.com"))
    assert expired.last_used_at is None
    listing = run(cli_env, "user", "tokens", "--org", slug, "--email", "ci@example.com").output
    assert re.search(r"expired\s+nightly", listing)
    (audited,) = db.execute("SELECT details FROM audit_log WHERE org_id = %s"
                            " AND action = 'user_token.create'", (org.org.org_id,)).fetchone()
    assert audited["expires_at"].startswith(listed.expires_at.strftime("%Y-%m-%d"))


def test_unlink_takes_a_linked_identity_back_and_says_when_there_is_none(db, org, cli_env):
    slug = org.org.slug
    run(cli_env, "user", "create", "--org", slug, "--email", "dev@example.com")
    run(cli_env, "user", "link", "--org", slug, "--email", "dev@example.com",
        "--identity", "account_uuid:abc-123")

    unlinked = run(cli_env, "user", "unlink", "--org", slug, "--email", "dev@example.com",
                   "--identity", "account_uuid:abc-123")
    again = run(cli_env, "user", "unlink", "--org", slug, "--email", "dev@example.com",
                "--identity", "account_uuid:abc-123")

    assert unlinked.exit_code == 0 and "unlinked account_uuid abc-123" in unlinked.output
    assert people.seat_identities(db, people.find_user(db, org.org.org_id, "dev@example.com")
                                  )["account_uuid"] == []
    assert again.exit_code == 1 and "is not linked to dev@example.com" in again.output
    assert db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s"
                      " AND action = 'user.unlink'", (org.org.org_id,)).fetchone()[0] == 1


def test_set_password_reads_stdin_and_checks(db, org, cli_env):
    slug = org.org.slug
    run(cli_env, "user", "create", "--org", slug, "--email", "pw@example.com")

    short = run(cli_env, "user", "set-password", "--org", slug, "--email", "pw@example.com",
                input="short\n")
    good = run(cli_env, "user", "set-password", "--org", slug, "--email", "pw@example.com",
               input="correct horse battery staple\n")

    assert short.exit_code != 0 and "at least" in short.output
    blank = run(cli_env, "user", "set-password", "--org", slug, "--email", "pw@example.com",
                input=" " * 16 + "\n")
    assert blank.exit_code == 1 and "not only spaces" in blank.output
    not_utf8 = run(cli_env, "user", "set-password", "--org", slug, "--email", "pw@example.com",
                   input=b"caf\xe9 au lait, s'il vous plait\n")
    assert not_utf8.exit_code == 1 and "not UTF-8" in not_utf8.output
    assert not_utf8.exception is None or isinstance(not_utf8.exception, SystemExit)
    unknown = run(cli_env, "user", "list", "--org", "no-such-org")
    assert unknown.exit_code == 1 and unknown.stdout == ""
    assert good.exit_code == 0
    assert people.check_password(db, org.org.org_id, "PW@example.com", "correct horse battery staple")
    assert people.check_password(db, org.org.org_id, "pw@example.com", "wrong password!!") is None
    stored = db.execute("SELECT password_hash FROM users WHERE org_id = %s",
                        (org.org.org_id,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and "horse" not in stored


def test_link_makes_sessions_visible_to_a_member(client, db, org, cli_env):
    slug = org.org.slug
    session_id = ingest_session(client, org, "bash-tool")
    run(cli_env, "user", "create", "--org", slug, "--email", "linked@example.com")
    token = run(cli_env, "user", "token", "--org", slug, "--email", "linked@example.com",
                "--reads-content").stdout.strip().splitlines()[-1]
    user_id = db.execute("SELECT user_id FROM sessions WHERE session_id = %s",
                         (session_id,)).fetchone()[0]

    bad = run(cli_env, "user", "link", "--org", slug, "--email", "linked@example.com",
              "--identity", "nonsense")
    before = client.get(f"/api/v1/sessions/{session_id}/content",
                        headers={"Authorization": f"Bearer {token}"})
    linked = run(cli_env, "user", "link", "--org", slug, "--email", "linked@example.com",
                 "--identity", f"user_id:{user_id}")
    after = client.get(f"/api/v1/sessions/{session_id}/content",
                       headers={"Authorization": f"Bearer {token}"})

    assert bad.exit_code != 0 and "account_uuid:" in bad.output
    assert linked.exit_code == 0
    assert (before.status_code, after.status_code) == (403, 200)


@pytest.mark.parametrize("args, message", [
    (("user", "create", "--org", "no-such-org", "--email", "a@example.com"), "no org"),
    (("user", "create", "--org", "{slug}", "--email", "not-an-email"), "not an email"),
    (("user", "token", "--org", "{slug}", "--email", "ghost@example.com"), "No user"),
])
def test_bad_input_exits_non_zero_with_a_clear_message(org, cli_env, args, message):
    result = run(cli_env, *[arg.format(slug=org.org.slug) for arg in args])

    assert result.exit_code != 0
    assert message.lower() in result.output.lower()


@pytest.mark.parametrize("identity", ["email:two words@example.com", "email:nobody",
                                      "email:@example.com"])
def test_linking_an_email_that_is_not_an_address_is_refused(db, org, cli_env, identity):
    slug = org.org.slug
    run(cli_env, "user", "create", "--org", slug, "--email", "linked@example.com")

    result = run(cli_env, "user", "link", "--org", slug, "--email", "linked@example.com",
                 "--identity", identity)

    assert result.exit_code == 1 and "not an email address" in result.output
    assert db.execute("SELECT count(*) FROM user_identities WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == 0


def test_setting_the_role_a_user_has_changes_and_records_nothing(db, org, cli_env):
    slug = org.org.slug
    run(cli_env, "user", "create", "--org", slug, "--email", "lead@example.com", "--role", "admin")
    audited = db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                         (org.org.org_id,)).fetchone()[0]

    again = run(cli_env, "user", "set-role", "--org", slug, "--email", "LEAD@example.com",
                "--role", "admin")

    assert again.exit_code == 0 and "admin already" in again.stderr
    assert db.execute("SELECT count(*) FROM audit_log WHERE org_id = %s",
                      (org.org.org_id,)).fetchone()[0] == audited
