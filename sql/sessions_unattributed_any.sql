-- Whether the org has any unattributed session (migration 0008): until it has, an ingest
-- of its events need not share the seat locks of sql/sessions_lock_unattributed_seats.sql.
-- Run by mojule/rollup.py, at most every 10 s per org and worker; the partial index
-- sessions_unattributed answers it.
SELECT EXISTS (SELECT 1
                 FROM sessions
                WHERE org_id = %(org_id)s
                  AND unattributed)
