-- 0028_user_token_expiry.sql: a personal access token (mut_...) can be made to expire, as
-- an ingest token can (0010): people now create their own on the Account page, and a
-- token for a script written once should not read the org's content for ever (`mojule
-- user token --expires-in`, the Account page's lifetimes). Applied once by `mojule
-- init-db`; instant: the column has no default, and existing tokens never expire.
ALTER TABLE user_tokens ADD COLUMN expires_at timestamptz;
