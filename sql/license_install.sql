-- Stores a verified license file as the license in force; run by `mojule license install`.
-- Installing a license again makes it the one in force again.
INSERT INTO licenses (license_id, document, licensee, seats, not_after, installed_by)
VALUES (%(license_id)s, %(document)s, %(licensee)s, %(seats)s, %(not_after)s, %(installed_by)s)
ON CONFLICT (license_id) DO UPDATE
   SET document     = excluded.document,
       licensee     = excluded.licensee,
       seats        = excluded.seats,
       not_after    = excluded.not_after,
       installed_at = now(),
       installed_by = excluded.installed_by
