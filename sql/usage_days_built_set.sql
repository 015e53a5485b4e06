-- Records that an org's days before `built_through` are summed (or noted as changed).
INSERT INTO usage_days_built (org_id, built_through)
VALUES (%(org_id)s, %(built_through)s)
    ON CONFLICT (org_id) DO UPDATE SET built_through = EXCLUDED.built_through
