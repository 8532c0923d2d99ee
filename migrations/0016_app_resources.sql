-- Resource Indicators (RFC 8707): the resource servers (absolute URIs) an app's access tokens may be
-- issued for. A `resource` at /authorize or /token must be one of them and becomes the token's aud;
-- without one, aud stays the app's own id. An authorization code keeps the resource it was asked for.
ALTER TABLE apps ADD COLUMN resources text[] NOT NULL DEFAULT '{}';
ALTER TABLE authorization_codes ADD COLUMN resource text;
