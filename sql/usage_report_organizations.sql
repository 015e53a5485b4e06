-- The organization uuid (organization.id: a hint the client sends, not the tenant) of
-- some seats active in [from, to), for a page of the usage report in the shape of
-- Anthropic's Admin API (mojule/usage_report.py): the one of the seat's latest session
-- that carries one.
SELECT DISTINCT ON (seat_identity) seat_identity, organization_uuid
  FROM sessions
 WHERE org_id = %(org_id)s
   AND first_seen < %(to)s
   AND last_seen >= %(from)s
   AND seat_identity = ANY (%(seats)s::text[])
   AND organization_uuid IS NOT NULL
 ORDER BY seat_identity, last_seen DESC
