-- Holds off new and released legal holds until the transaction ends: `mojule org delete`
-- checks that none is active and destroys the org's keys under it, so that no hold can be
-- placed between the check and the keys' destruction.
LOCK TABLE legal_holds IN SHARE MODE
