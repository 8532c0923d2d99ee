-- Admin API (issue 14): the two fields of Keymaster's POST /admin/apps body (KEYMASTER-API.md §5) that
-- apps had no column for: the native app's bundle id and the logo's display height on the sign-in page.
ALTER TABLE apps
  ADD COLUMN bundle_id text,
  ADD COLUMN logo_height integer CHECK (logo_height BETWEEN 16 AND 256);
