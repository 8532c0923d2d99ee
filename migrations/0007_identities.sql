-- Sign-in through an upstream OpenID provider (Google or any OIDC issuer).
-- identities links an upstream account (provider, subject) to a Keymaster user; upstream_flows holds
-- one browser's pending authorization request: single use, 10 minutes, keyed by the SHA-256 of the
-- random value in its HttpOnly cookie. The PKCE verifier and nonce are encrypted at rest.

CREATE TABLE identities (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider       text NOT NULL,
  subject        text NOT NULL,
  email          text,                          -- as the upstream reported it at link time
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz,
  UNIQUE (provider, subject)
);
CREATE INDEX identities_user_idx ON identities (user_id);

CREATE TABLE upstream_flows (
  id_hash       text PRIMARY KEY,               -- sha256 of the cookie value
  provider      text NOT NULL,
  state_hash    text NOT NULL,                  -- sha256 of the state sent upstream
  secrets_enc   text NOT NULL,                  -- AES-256-GCM {code_verifier, nonce}, AAD = id_hash
  app_id        uuid NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
  redirect_uri  text NOT NULL,
  client_state  text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  used_at       timestamptz
);
CREATE INDEX upstream_flows_expires_idx ON upstream_flows (expires_at);
