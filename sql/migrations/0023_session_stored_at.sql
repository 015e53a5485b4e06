-- 0023_session_stored_at.sql: when Mojule first stored each session, by its own clock.
-- Applied once by `mojule init-db`; both statements change the catalog only.
--
-- A session first seen without user.email (Claude Code leaves it off some records, for
-- one when launched from Claude Desktop) takes the email of a later record naming its
-- own account or install, but only while it is young by this clock
-- (sql/session_upsert.sql). Records carry the client's clock, which anyone holding the
-- org's ingest token sets; this one they cannot. Sessions stored before this release
-- are old already: a claim on them is refused, as every claim was.
ALTER TABLE sessions ADD COLUMN stored_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE sessions ALTER COLUMN stored_at SET DEFAULT now();
