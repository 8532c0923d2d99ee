-- The pending sign-in an email link continues (issue 16): the app's `state` (and `prompt=login`) and
-- the sealed OIDC authorization request (`authz`) of the page the user left to create an account or reset a password.
-- Kept with the single-use token rather than in the link, so the link stays short whatever their
-- length (a sealed request may run to thousands of characters; mail clients cut long links). Neither
-- is secret: the request is sealed already and the state is the app's own value.
ALTER TABLE email_tokens ADD COLUMN sign_in_state text;
ALTER TABLE email_tokens ADD COLUMN sign_in_authz text;
ALTER TABLE email_tokens ADD COLUMN sign_in_prompt text;
