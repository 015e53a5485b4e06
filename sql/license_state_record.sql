-- Records the policy's decision when it differs from the one recorded last; returns a row
-- only then, so of many workers noticing the same change exactly one audit-logs it.
UPDATE ingest_state
   SET paused     = %(paused)s,
       reason     = %(reason)s,
       changed_at = now()
 WHERE (paused, reason) IS DISTINCT FROM (%(paused)s, %(reason)s)
RETURNING changed_at
