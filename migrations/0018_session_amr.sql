-- How the user signed in (issue 18; OIDC Core §2 `amr`, RFC 8176 values), recorded on the SSO session
-- when it starts and copied onto the authorization codes it issues, so the ID token and the OAuth-flow
-- access token can say it. Space-separated RFC 8176 values ("pwd"). NULL = unknown (a session from
-- before this migration, or a sign-in through an upstream IdP, which RFC 8176 has no value for): the
-- `amr` and `acr` claims are then omitted rather than guessed.
ALTER TABLE sessions ADD COLUMN amr text;
ALTER TABLE authorization_codes ADD COLUMN amr text;
