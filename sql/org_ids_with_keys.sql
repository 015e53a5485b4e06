-- Lists the orgs, for master-key rotation (each org's keys are then read in its context).
SELECT org_id
  FROM orgs
 ORDER BY org_id
