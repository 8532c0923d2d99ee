-- The individual claims an authorization request asked for with the `claims` parameter (OIDC Core
-- §5.5; issue 18), kept with the code until it is exchanged: JSON {"userinfo": [names], "id_token":
-- [names]}, only the claims Keymaster holds and the app may have. NULL: none asked for.
ALTER TABLE authorization_codes ADD COLUMN requested_claims text;
