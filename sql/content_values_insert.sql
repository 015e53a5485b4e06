-- Moves staged content values into place (row-level security checks each row's org).
INSERT INTO content_values (org_id, time, signal, record_id, attribute, session_id, dek_id,
                            ciphertext)
SELECT org_id, time, signal, record_id, attribute, session_id, dek_id, ciphertext
  FROM content_values_staging
    ON CONFLICT DO NOTHING
