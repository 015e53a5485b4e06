-- Gives up on a lock held over two seconds, for the rest of the transaction: a purge batch
-- waits that long at most for ingest, and is tried again at the next run.
SET LOCAL lock_timeout = '2s'
