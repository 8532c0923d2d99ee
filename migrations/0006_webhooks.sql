-- Outbound identity webhooks (KEYMASTER-API.md §6) and their delivery queue.
-- The signing secret must be usable to sign, so it is stored AES-256-GCM encrypted (key derived from
-- KEYMASTER_SECRET for purpose "webhooks", AAD = the webhook id), never in plaintext.
CREATE TABLE webhooks (
  id          uuid PRIMARY KEY,
  app_id      uuid NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
  url         text NOT NULL,
  events      text[] NOT NULL,
  secret_enc  text NOT NULL,
  disabled_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_app_idx ON webhooks (app_id);

-- The queue. `payload` is the exact raw body that is signed and sent. A worker claims due rows with
-- FOR UPDATE SKIP LOCKED and pushes next_attempt_at forward (a lease), so several processes never send
-- one attempt twice and a crashed worker's claim is retried once the lease runs out.
CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY,
  webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  app_id           uuid NOT NULL,
  event            text NOT NULL,
  payload          text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at);

-- Audit queries by app and by event (keymaster audit list --app / --event).
CREATE INDEX audit_events_app_idx ON audit_events (app_id, at);
CREATE INDEX audit_events_event_idx ON audit_events (event, at);
