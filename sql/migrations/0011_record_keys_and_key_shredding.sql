-- 0011_record_keys_and_key_shredding.sql: a purge destroys the data keys of content it
-- removed (crypto-shredding). Applied once by `mojule init-db`; instant.
--
-- An org's content keys now change every MOJULE_DATA_KEY_DAYS (mojule/keyring.py), and
-- `mojule purge` deletes a retired key once no content row names it any more: whatever
-- copy of that content outlives the purge (a table page not yet overwritten, a WAL
-- segment, a replica) can no longer be decrypted with anything the database holds.
--
-- Stored record ids were keyed from the org's first data key (crypto.RecordKey), which
-- therefore could never go. The key of record ids now has a table of its own, wrapped by
-- the master key like a data key: a new org gets a random one; an org from before this
-- release gets the one its first data key gave, written on first use, so that ids stay
-- the same and a retried export is still recognised.
CREATE TABLE record_keys (
    org_id          bigint      NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    wrapped_key     bytea       NOT NULL,
    master_key_id   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id)
);
ALTER TABLE record_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON record_keys USING (org_id = mojule_current_org());
ALTER TABLE record_keys FORCE ROW LEVEL SECURITY;
