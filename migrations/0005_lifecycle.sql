-- Token lifecycle (issue #5): signing-key rotation schedule, refresh-token reuse grace.

-- Keys: next (published, not yet signing) → active (signing) → previous (published, no longer
-- signing, until every token it signed has expired) → retired (unpublished).
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_state_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_state_check CHECK (state IN ('next', 'active', 'previous', 'retired'));
ALTER TABLE signing_keys ADD COLUMN activate_at timestamptz;   -- a next key may sign from then on
ALTER TABLE signing_keys ADD COLUMN retire_at timestamptz;     -- a previous key is unpublished from then on

-- Per-app refresh reuse interval in seconds (NULL = server default; 0 = strict rotation).
ALTER TABLE apps ADD COLUMN refresh_reuse_interval integer CHECK (refresh_reuse_interval BETWEEN 0 AND 300);

-- Within the reuse interval a rotated token presented again gets its successor's pair back. Each
-- successor row keeps the pair it was issued in (access + refresh token) AES-256-GCM encrypted under
-- KEYMASTER_SECRET until reuse_until; housekeeping clears it after that.
ALTER TABLE refresh_tokens ADD COLUMN pair_enc text;
ALTER TABLE refresh_tokens ADD COLUMN reuse_until timestamptz;
CREATE INDEX refresh_tokens_reuse_until_idx ON refresh_tokens (reuse_until) WHERE pair_enc IS NOT NULL;
CREATE INDEX refresh_tokens_revoked_idx ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
