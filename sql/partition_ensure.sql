-- Creates the monthly partition of a telemetry table holding a day, if missing.
SELECT mojule_ensure_partition(%(parent)s, %(day)s)
