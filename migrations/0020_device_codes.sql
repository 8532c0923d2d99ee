-- OAuth 2.0 Device Authorization Grant (RFC 8628; issue 18). One row per device authorization
-- request. The device_code is 32 random bytes, stored only as its SHA-256; the user_code (8 letters
-- of the RFC 8628 §6.1 alphabet) only as an HMAC of its normalised form under KEYMASTER_SECRET.
-- status: pending → approved | denied (the user's decision on /device, one conditional UPDATE);
-- approved → redeemed (the token exchange, one conditional UPDATE: of two exchanges one wins).
-- interval_seconds grows by 5 with every poll sooner than it (§3.5 slow_down). family_id is the grant
-- the tokens name (grant_id), fixed before the exchange, as for authorization codes.
CREATE TABLE device_codes (
  device_code_hash  text PRIMARY KEY,
  user_code_hash    text NOT NULL UNIQUE,
  app_id            uuid NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
  scope             text NOT NULL,
  resource          text,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
  interval_seconds  integer NOT NULL,
  last_polled_at    timestamptz,
  user_id           uuid REFERENCES users (id) ON DELETE CASCADE,
  session_id        uuid REFERENCES sessions (id) ON DELETE SET NULL,
  auth_time         timestamptz,
  amr               text,
  family_id         uuid NOT NULL,
  created_at        timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL,
  decided_at        timestamptz,
  redeemed_at       timestamptz
);
CREATE INDEX device_codes_expires_idx ON device_codes (expires_at);
CREATE INDEX device_codes_session_idx ON device_codes (session_id) WHERE session_id IS NOT NULL;
