-- Fixed-window rate-limit counters, shared by every process on this database (DESIGN.md §4.9).
CREATE TABLE rate_limits (
  key           text PRIMARY KEY,          -- "<rule>:<subject>", subject hashed when it is personal data
  window_start  timestamptz NOT NULL,
  count         integer NOT NULL
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);
