-- Account journeys (seed 004): single-use email tokens and the email outbox.

-- Email verification and password reset tokens. Only the SHA-256 of the 256-bit random value is kept;
-- a token is spent by one conditional UPDATE (used_at IS NULL AND expires_at > now), so two concurrent
-- uses cannot both succeed.
CREATE TABLE email_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash  text NOT NULL UNIQUE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose     text NOT NULL CHECK (purpose IN ('verify', 'reset')),
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);

-- Every message is written here first; sending happens after the request and is retried from here.
-- Subject and bodies are AES-256-GCM encrypted (they hold single-use links) and wiped once sent.
CREATE TABLE email_outbox (
  id               bigserial PRIMARY KEY,
  to_address       text NOT NULL,
  template         text NOT NULL,
  body_enc         text,
  status           text NOT NULL CHECK (status IN ('pending', 'sent', 'logged', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL,
  next_attempt_at  timestamptz NOT NULL,
  sent_at          timestamptz,
  last_error       text
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status = 'pending';

-- Access tokens issued before this instant (a password reset or change) are refused by the account
-- API's Bearer endpoints, though they are JWTs: "the old tokens are dead" at once there.
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
