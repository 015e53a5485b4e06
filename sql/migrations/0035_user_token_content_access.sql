-- 0035_user_token_content_access.sql: a personal access token reads content (prompts,
-- responses, commands, through GET /api/v1/sessions/<id>/content) only when it was made
-- to. A reporting script's token then reads usage and never a prompt, even an admin's.
-- Tokens made before keep the access they had: the column's first default fills them;
-- new ones are made without it unless asked. Applied once by `mojule init-db`; a constant
-- default adds the column without rewriting the table.
ALTER TABLE user_tokens ADD COLUMN reads_content boolean NOT NULL DEFAULT true;
ALTER TABLE user_tokens ALTER COLUMN reads_content SET DEFAULT false;
