-- Erases the content of one session, or of every session of a seat (`mojule content
-- erase`, Admin -> Erasure), in the transaction of its audit row. Never what an active
-- legal hold keeps (mojule_held_sessions, migration 0032), though erasure.py refuses such
-- a request before it gets here, and holds wait for this transaction (holds_lock.sql).
DELETE FROM content_values AS c
 USING sessions AS s
 WHERE c.org_id = %(org_id)s
   AND s.org_id = c.org_id
   AND s.session_id = c.session_id
   AND (%(session_id)s::text IS NULL OR s.session_id = %(session_id)s)
   AND (%(seat)s::text IS NULL OR s.seat_identity = %(seat)s)
   AND NOT EXISTS (SELECT 1
                     FROM mojule_held_sessions(%(org_id)s) AS held
                    WHERE held.session_id = c.session_id)
