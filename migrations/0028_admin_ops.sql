-- Admin API operations (issue 14): keyset pages over the audit trail and an app's refresh tokens, and
-- seed 001's refresh keys (a refresh token an admin creates for an audience and a lifetime).

-- GET /admin/audit-events pages newest first by (at, id): unfiltered, and by user.
-- (By app and by event, 0006's (app_id, at) and (event, at) serve.)
CREATE INDEX audit_events_at_id_idx ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_user_at_idx ON audit_events (user_id, at DESC, id DESC) WHERE user_id IS NOT NULL;

-- GET /admin/apps/{app_id}/refresh-keys: an app's refresh tokens, newest first, keyset (created_at, jti).
CREATE INDEX refresh_tokens_app_created_idx ON refresh_tokens (app_id, created_at DESC, jti);

-- A refresh key's lifetime bounds its whole family: a rotation gives the successor the app's refresh
-- lifetime but never past family_expires_at (null: no bound, every sign-in so far). issued_by is the
-- admin who created the key (null: a sign-in issued it); no foreign key, so deleting a user never
-- scans this table for it.
ALTER TABLE refresh_tokens
  ADD COLUMN family_expires_at timestamptz,
  ADD COLUMN issued_by uuid;
