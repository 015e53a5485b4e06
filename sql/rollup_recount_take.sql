-- Takes a batch of an org's sessions whose usage must be counted again (usage_recount,
-- migration 0019), in session order. mojule/rollup.py recounts them in the same
-- transaction, so a batch that fails stays listed; SKIP LOCKED lets two recounts (an
-- init-db beside a purge) share the work.
DELETE FROM usage_recount
 WHERE org_id = %(org_id)s
   AND session_id IN (SELECT session_id
                        FROM usage_recount
                       WHERE org_id = %(org_id)s
                       ORDER BY session_id
                       LIMIT %(batch)s
                         FOR UPDATE SKIP LOCKED)
RETURNING session_id
