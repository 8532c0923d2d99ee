-- Keymaster schema, version 1. Forward-only: never edit once landed; add 0002_… instead.
-- Every token, code, cookie id and client secret is stored as a SHA-256 hash only (DESIGN.md §4.1).

CREATE TABLE apps (
  app_id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                       text NOT NULL,
  client_secret_hash         text NOT NULL,
  redirect_uris              text[] NOT NULL DEFAULT '{}',
  post_logout_redirect_uris  text[] NOT NULL DEFAULT '{}',
  logo_url                   text,
  primary_color              text,
  providers                  text[] NOT NULL DEFAULT '{password}',
  access_token_ttl           integer,            -- seconds; NULL = server default
  refresh_token_ttl_days     integer,            -- NULL = server default
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email              text NOT NULL,
  email_verified_at  timestamptz,
  password_hash      text,
  name               text,
  roles              text[] NOT NULL DEFAULT '{}',
  failed_logins      integer NOT NULL DEFAULT 0,
  locked_until       timestamptz,
  disabled_at        timestamptz,
  last_login_at      timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique case-insensitively; lookups use lower(email).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE signing_keys (
  kid              text PRIMARY KEY,
  alg              text NOT NULL DEFAULT 'RS256',
  public_jwk       jsonb NOT NULL,
  private_key_enc  text NOT NULL,                 -- AES-256-GCM under KEYMASTER_SECRET, PKCS#8 PEM inside
  state            text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  activated_at     timestamptz,
  retired_at       timestamptz
);
-- At most one active key at a time.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- SSO browser sessions (cookie km_sso). The cookie value is random; only its hash is stored.
CREATE TABLE sessions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash    text NOT NULL UNIQUE,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  auth_time     timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  last_seen_at  timestamptz,
  revoked_at    timestamptz,
  user_agent    text,
  ip            text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Refresh tokens (seed 001's fields). One family per sign-in; each rotation adds a child.
CREATE TABLE refresh_tokens (
  jti             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash      text NOT NULL UNIQUE,
  family_id       uuid NOT NULL,
  parent_jti      uuid,
  app_id          uuid NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  session_id      uuid REFERENCES sessions (id) ON DELETE SET NULL,
  scope           text,
  claims          jsonb NOT NULL DEFAULT '{}',
  auth_time       timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  last_used_at    timestamptz,
  rotated_at      timestamptz,                 -- spent by rotation (a later presentation is a replay)
  successor_jti   uuid,
  revoked_at      timestamptz,
  revoked_reason  text,
  user_agent      text,
  ip              text
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE audit_events (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  event       text NOT NULL,
  user_id     uuid,
  app_id      uuid,
  ip          text,
  user_agent  text,
  data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_user_idx ON audit_events (user_id);
