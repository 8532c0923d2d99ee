-- http: redirect and post-logout URIs only on loopback hosts (RFC 9700 §2.6, RFC 8252 §7.3), unless an
-- app is explicitly marked for development. Checked when an app is created or changed; apps that
-- already hold a non-loopback http: URI keep working (nothing here rewrites or refuses them) and are
-- marked for development, so a later change to one of them is not refused for a URI it already had.
ALTER TABLE apps ADD COLUMN development boolean NOT NULL DEFAULT false;

UPDATE apps a
   SET development = true
 WHERE EXISTS (
   SELECT 1
     FROM unnest(a.redirect_uris || a.post_logout_redirect_uris) AS u(uri)
    WHERE u.uri LIKE 'http:%'
      AND substring(u.uri FROM '^http://(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)') !~* '^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])$'
 );
