-- Reads the encrypted content values of a session for the audited content read.
SELECT signal, record_id, attribute, dek_id, ciphertext
  FROM content_values
 WHERE org_id = %(org_id)s
   AND session_id = %(session_id)s
