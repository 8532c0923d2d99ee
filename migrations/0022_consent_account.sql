-- Consent for third-party apps (issue 16). An app marked third_party asks the user, once per set of
-- scopes, before /authorize answers it; first-party apps (the default) never ask. What the user
-- allowed is remembered per (user, app): the union of every scope granted so far. Revoking it (the
-- /account page) deletes the row and ends that app's refresh-token families for the user.
-- sign_in_binding: SHA-256 of the cookie set in the browser that registered (or asked for a new
-- verification link); opening the link in that same browser signs the user in and continues the
-- pending sign-in. A forwarded link, opened elsewhere, only verifies the email.
ALTER TABLE apps ADD COLUMN third_party boolean NOT NULL DEFAULT false;

CREATE TABLE consents (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  app_id      uuid NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
  scopes      text[] NOT NULL,
  granted_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  UNIQUE (user_id, app_id)
);
CREATE INDEX consents_app_idx ON consents (app_id);

ALTER TABLE email_tokens ADD COLUMN sign_in_binding text;
