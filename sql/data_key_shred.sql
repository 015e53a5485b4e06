-- Destroys the org's retired data keys that no content row names any more, retired before
-- the purge's cutoff (what they encrypted was all received before it): crypto-shredding.
-- Run by `mojule purge` after it removed the org's expired content; returns the key ids.
-- Retired before the cutoff and an hour ago at least (whatever `purge --now` says): a
-- worker keeps encrypting with the key it cached for up to a minute after another
-- retired it. A row stamped after the cutoff under such a key (a client clock running
-- ahead) keeps it until it is purged itself.
DELETE FROM data_keys AS k
 WHERE k.org_id = %(org_id)s
   AND k.retired_at < %(cutoff)s
   AND k.retired_at < now() - interval '1 hour'
   -- An org from before migration 0011 takes its record-id key from its first data key
   -- (mojule/keyring.py): until it has one, that key must stay.
   AND EXISTS (SELECT 1 FROM record_keys AS r WHERE r.org_id = k.org_id)
   AND NOT EXISTS (SELECT 1
                     FROM content_values AS c
                    WHERE c.org_id = k.org_id
                      AND c.dek_id = k.dek_id)
RETURNING k.dek_id
