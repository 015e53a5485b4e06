-- Names the digest of a presented token or link until this transaction ends: row-level
-- security lets the transaction see the user_tokens and password_links rows with that
-- digest alone (migrations 0002 and 0029), whatever their org.
SELECT set_config('mojule.token_digest', %(digest)s, true)
