-- Scopes row-level security to one org until this transaction ends (is_local = true):
-- the setting cannot outlive it and reach the next request on a pooled connection.
SELECT set_config('mojule.org_id', %(org_id)s, true)
