-- Resolves a presented ingest token (by digest) to its org in one round trip, recording
-- its use; run by the auth hook on every ingest request.
SELECT org_id, token_id, revoked, expired
  FROM mojule_resolve_ingest_token(%(token_digest)s)
