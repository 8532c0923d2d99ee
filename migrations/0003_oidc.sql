-- OpenID Provider: per-app client settings and single-use authorization codes (DESIGN.md §4.6).

-- confidential apps authenticate with their secret; public apps (SPAs, native) with PKCE alone.
ALTER TABLE apps ADD COLUMN client_type text NOT NULL DEFAULT 'confidential'
  CHECK (client_type IN ('confidential', 'public'));
ALTER TABLE apps ADD COLUMN grant_types text[] NOT NULL DEFAULT '{authorization_code,refresh_token}';
ALTER TABLE apps ADD COLUMN allowed_scopes text[] NOT NULL DEFAULT '{openid,profile,email,offline_access,roles}';

-- Codes are 32 random bytes; only their SHA-256 is stored. Spent by one conditional UPDATE
-- (used_at IS NULL); family_id is fixed before the code is spent, so a replay can revoke what it issued.
-- A replay racing the first redemption marks replayed_at; the winner re-reads it after issuing.
CREATE TABLE authorization_codes (
  code_hash              text PRIMARY KEY,
  app_id                 uuid NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
  user_id                uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  session_id             uuid REFERENCES sessions (id) ON DELETE SET NULL,
  redirect_uri           text NOT NULL,
  scope                  text NOT NULL,
  nonce                  text,
  code_challenge         text,
  code_challenge_method  text,
  auth_time              timestamptz NOT NULL,
  family_id              uuid NOT NULL,
  created_at             timestamptz NOT NULL,
  expires_at             timestamptz NOT NULL,
  used_at                timestamptz,
  replayed_at            timestamptz            -- a second redemption was attempted
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);
