-- Sets an org's monthly budget in US dollars, or removes it (NULL), returning the org and
-- the budget it replaced: the row is locked and read first (FOR UPDATE), so of two
-- changes at once the second sees the first's value, and the audit trail misses neither.
UPDATE orgs AS o
   SET monthly_budget_usd = %(monthly_budget_usd)s
  FROM (SELECT org_id, monthly_budget_usd
          FROM orgs
         WHERE org_id = %(org_id)s
           FOR UPDATE) AS before
 WHERE o.org_id = before.org_id
RETURNING o.org_id, o.slug, o.name, o.retention_days, o.created_at, o.monthly_budget_usd,
          before.monthly_budget_usd AS replaced_usd
