-- Pauses ingestion by hand, or changes the reason of a manual pause; `mojule ingest pause`.
INSERT INTO ingest_pause (reason, paused_by)
VALUES (%(reason)s, %(paused_by)s)
ON CONFLICT (installation) DO UPDATE
   SET reason    = excluded.reason,
       paused_by = excluded.paused_by,
       paused_at = now()
