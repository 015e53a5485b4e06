-- Everything the license policy decides on, in one round trip: the license in force, the
-- seats seen within the window, and the operator's manual pause. Run by each worker every
-- few seconds (MOJULE_LICENSE_CHECK_SECONDS) and by `mojule license status`.
SELECT l.document,
       l.installed_at,
       (SELECT count(*)
          FROM license_seats
         WHERE last_seen > now() - %(window)s) AS seats_in_use,
       p.reason                                AS pause_reason,
       p.paused_by,
       p.paused_at,
       now()                                   AS now
  FROM (SELECT 1) AS one
  LEFT JOIN (SELECT document, installed_at
               FROM licenses
              ORDER BY installed_at DESC, license_id
              LIMIT 1) AS l ON true
  LEFT JOIN ingest_pause AS p ON true
