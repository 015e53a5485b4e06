-- Appends one audit row (already chained by mojule/audit.py).
INSERT INTO audit_log (org_id, occurred_at, actor_type, actor_id, actor_role, token_id,
                       action, target_type, target_id, outcome, reason, source_ip,
                       user_agent, request_id, details, prev_hash, row_hash)
VALUES (%(org_id)s, %(occurred_at)s, %(actor_type)s, %(actor_id)s, %(actor_role)s,
        %(token_id)s, %(action)s, %(target_type)s, %(target_id)s, %(outcome)s, %(reason)s,
        %(source_ip)s, %(user_agent)s, %(request_id)s, %(details)s, %(prev_hash)s,
        %(row_hash)s)
RETURNING audit_id
