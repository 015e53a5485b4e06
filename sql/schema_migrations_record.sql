-- Records one applied migration, in the same transaction as the migration itself.
INSERT INTO schema_migrations (version, name)
VALUES (%(version)s, %(name)s)
