-- Reads an org's whole audit chain in order for `mojule audit verify`.
SELECT audit_id, org_id, occurred_at, actor_type, actor_id, actor_role, token_id, action,
       target_type, target_id, outcome, reason, source_ip, user_agent, request_id, details,
       prev_hash, row_hash
  FROM audit_log
 WHERE org_id = %(org_id)s
 ORDER BY audit_id
