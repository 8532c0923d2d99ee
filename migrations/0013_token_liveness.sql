-- Access-token liveness (DESIGN.md §7.14): a per-user read of what ended recently — refresh-token
-- families revoked and authorization codes replayed — for the check every endpoint that accepts an
-- access token makes. Partial indexes: only ended rows are in them, so they cost nothing on the
-- refresh hot path (a rotation sets rotated_at, never revoked_at) and stay small.
CREATE INDEX refresh_tokens_user_revoked_idx ON refresh_tokens (user_id, revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX authorization_codes_user_replayed_idx ON authorization_codes (user_id, replayed_at) WHERE replayed_at IS NOT NULL;
