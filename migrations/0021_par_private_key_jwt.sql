-- private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9) and Pushed Authorization
-- Requests (RFC 9126); issue 18.
-- An app authenticates at the token endpoint with its client secret (client_secret_basic or _post,
-- both accepted as before) or with a JWT signed by a key of its registered public JWK Set, inline
-- (jwks, JSON text) or fetched from jwks_uri. An app set to private_key_jwt may not use its secret.
ALTER TABLE apps ADD COLUMN token_endpoint_auth_method text NOT NULL DEFAULT 'client_secret_basic'
  CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt'));
ALTER TABLE apps ADD COLUMN jwks text;
ALTER TABLE apps ADD COLUMN jwks_uri text;
-- RFC 9126 §6: this app's authorization requests are accepted only through /par.
ALTER TABLE apps ADD COLUMN require_pushed_authorization_requests boolean NOT NULL DEFAULT false;

-- RFC 7523 §3 rule 7: a client assertion's jti is used once. The primary key decides a race between
-- processes (insert … on conflict do nothing); a row lives until the assertion's exp, then
-- housekeeping deletes it. Only the SHA-256 of the jti is kept.
CREATE TABLE client_assertion_jtis (
  app_id     uuid NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
  jti_hash   text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (app_id, jti_hash)
);
CREATE INDEX client_assertion_jtis_expires_at ON client_assertion_jtis (expires_at);

-- RFC 9126 §2.2: a pushed authorization request, named by the SHA-256 of the random part of its
-- request_uri, bound to its client, used once (the row is deleted by the /authorize that uses it)
-- and short-lived (expired rows are deleted by housekeeping). params: the request's parameters, JSON.
CREATE TABLE pushed_authorization_requests (
  request_hash text PRIMARY KEY,
  app_id       uuid NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
  params       text NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX pushed_authorization_requests_expires_at ON pushed_authorization_requests (expires_at);
