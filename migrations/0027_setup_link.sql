-- The first-start setup link (issue 14): while no platform admin exists, each server start issues a
-- one-time link `${issuer}/setup?token=…` that opens the "create the first administrator" page.
-- One row at most (id is always true): issuing a new link replaces the old one, so exactly one link
-- is valid at a time whatever the number of processes. Only the SHA-256 of the token is stored.
CREATE TABLE setup_link (
  id          boolean PRIMARY KEY DEFAULT true CHECK (id),
  token_hash  text NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
