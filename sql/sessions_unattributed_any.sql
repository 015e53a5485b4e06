-- Whether the org has any unattributed session (migration 0008): until it has, an ingest
-- needs neither the shared seat locks of sql/sessions_lock_unattributed_seats.sql nor the
-- flag checks of mojule/rollup.py record_inserted. Run by mojule/rollup.py for each batch
-- of an org not yet known to have one; the partial index sessions_unattributed answers it.
SELECT EXISTS (SELECT 1
                 FROM sessions
                WHERE org_id = %(org_id)s
                  AND unattributed)
