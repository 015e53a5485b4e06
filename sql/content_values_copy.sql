-- Streams encrypted content values of newly stored records; run by every signal's ingest.
COPY content_values (org_id, time, signal, record_id, attribute, session_id, dek_id, ciphertext)
FROM STDIN
