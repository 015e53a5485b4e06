-- Streams encrypted content values of newly stored records into staging; run by every
-- signal's ingest. Column order = the row tuples of ingest._store_content.
COPY content_values_staging (org_id, time, signal, record_id, attribute, session_id, dek_id,
                             ciphertext)
FROM STDIN
