-- 0003_oidc.sql was edited after 0004 had landed: authorization_codes.replayed_at was added to its text.
-- A database that applied 0003's first text never got the column. Idempotent: a no-op where 0003's
-- current text ran.
ALTER TABLE authorization_codes ADD COLUMN IF NOT EXISTS replayed_at timestamptz;
