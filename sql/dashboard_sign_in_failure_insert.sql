-- Records a failed dashboard sign-in (wrong password or unknown email).
INSERT INTO sign_in_failures (org_id, email, source_ip)
VALUES (%(org_id)s, %(email)s, %(source_ip)s)
