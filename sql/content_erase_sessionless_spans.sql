-- Erases a seat's span content sent without a session id (`mojule content erase
-- --seat`): its span names the seat though no session does. Found through the span of the
-- same record and start time (the spans_time index). erasure.py refused the request if a
-- hold keeps the seat's content.
DELETE FROM content_values AS c
 USING spans AS p
 WHERE c.org_id = %(org_id)s
   AND c.session_id IS NULL
   AND c.signal = 'traces'
   AND p.org_id = c.org_id
   AND p.start_time = c.time
   AND p.record_id = c.record_id
   AND p.seat_identity = %(seat)s
