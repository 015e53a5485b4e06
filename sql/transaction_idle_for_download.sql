-- Lets the transaction just begun stay open, idle, while a client reads a download: the
-- pool's connections give up on a transaction idle for 30 s (mojule/db.py), which would
-- cut a slow reader's sessions export short. Run by mojule/exports.py session_rows.
SET LOCAL idle_in_transaction_session_timeout = '15min'
