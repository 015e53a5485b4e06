-- 0010_ingest_token_expiry.sql: ingest tokens can expire, so that a token can be issued
-- for a rollout's length and rotated with an overlap (`mojule token create --expires-in`,
-- `mojule token rotate --overlap`). Applied once by `mojule init-db`; instant: the column
-- has no default, and existing tokens never expire.
ALTER TABLE ingest_tokens ADD COLUMN expires_at timestamptz;

-- As in 0002, with expiry: an expired token resolves as refused (expired) and its use is
-- not recorded. Dropped and created in this one transaction: its result type changes, and
-- a worker of the previous release, which reads org_id, token_id and revoked, keeps
-- working with the new one. IF EXISTS: a database that applied 0002 before the function
-- was added to it has none.
DROP FUNCTION IF EXISTS mojule_resolve_ingest_token(bytea);
CREATE FUNCTION mojule_resolve_ingest_token(digest bytea)
RETURNS TABLE (org_id bigint, token_id bigint, revoked boolean, expired boolean)
LANGUAGE plpgsql AS $$
DECLARE
    presented record;
BEGIN
    PERFORM set_config('mojule.token_digest', encode(digest, 'hex'), true);
    SELECT t.org_id, t.token_id, t.revoked_at IS NOT NULL AS revoked,
           coalesce(t.expires_at <= now(), false) AS expired, t.last_used_at
      INTO presented
      FROM ingest_tokens AS t
     WHERE t.token_digest = digest;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT presented.revoked AND NOT presented.expired
       AND (presented.last_used_at IS NULL OR presented.last_used_at < now() - interval '10 minutes') THEN
        PERFORM set_config('mojule.org_id', presented.org_id::text, true);
        UPDATE ingest_tokens AS t
           SET last_used_at = now()
         WHERE t.org_id = presented.org_id
           AND t.token_id = presented.token_id;
    END IF;
    org_id := presented.org_id;
    token_id := presented.token_id;
    revoked := presented.revoked;
    expired := presented.expired;
    RETURN NEXT;
END;
$$;
