-- Holds off new and released legal holds until the transaction ends: `mojule org delete`
-- checks that none is active and destroys the org's keys under it, and an erasure checks
-- and deletes under it, so that no hold is placed between the check and the deletion.
LOCK TABLE legal_holds IN SHARE MODE
