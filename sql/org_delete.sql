-- Removes the org itself, last step of `mojule org delete`.
DELETE FROM orgs
 WHERE org_id = %(org_id)s
