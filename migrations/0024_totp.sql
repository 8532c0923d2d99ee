-- TOTP second factor (issue 17, RFC 6238). One row per user who started enrolment: the secret is kept
-- AES-256-GCM encrypted under the server secret (bound to the user id), never in the clear.
-- pending_secret: set up but not yet confirmed; secret: active (enabled_at set). last_step: the last
-- RFC 6238 time step accepted; a conditional UPDATE (last_step < step) refuses any replay or race.
CREATE TABLE user_totp (
  user_id         uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret          text,
  pending_secret  text,
  enabled_at      timestamptz,
  last_step       bigint NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Single-use recovery codes, SHA-256 hashed; used_at set by a conditional UPDATE when one is spent.
CREATE TABLE totp_recovery_codes (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  used_at     timestamptz
);
CREATE UNIQUE INDEX totp_recovery_codes_user_hash ON totp_recovery_codes (user_id, code_hash);

-- A password sign-in waiting for its code: the totp_session handed out names this row (sealed). It is
-- spent once (used_at) and allows a few attempts (attempts) before it is refused. app_id is NULL for
-- the sign-in of Keymaster's own account page (no app).
CREATE TABLE totp_challenges (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  app_id      uuid,
  attempts    integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX totp_challenges_user ON totp_challenges (user_id);
CREATE INDEX totp_challenges_expires ON totp_challenges (expires_at);
