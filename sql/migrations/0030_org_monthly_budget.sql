-- 0030_org_monthly_budget.sql: an org can have a monthly budget for Claude Code, in US
-- dollars (`mojule org set --monthly-budget`, the admin Settings page). Mojule only
-- observes: the overview and GET /api/v1/budget show the month's cost against it and
-- its pace. Applied once by `mojule init-db`: the column has no default, so no row is
-- rewritten, and its CHECK reads the orgs table once (a few rows); existing orgs have
-- no budget.
ALTER TABLE orgs ADD COLUMN monthly_budget_usd numeric(14, 2)
    CHECK (monthly_budget_usd > 0);
