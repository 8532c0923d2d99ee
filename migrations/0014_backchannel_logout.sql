-- OpenID Connect Back-Channel Logout 1.0 §2.2: the URI an app registers for logout tokens, POSTed when
-- a session it signed in through ends. NULL: the app is not told.
ALTER TABLE apps ADD COLUMN backchannel_logout_uri text;

-- Logout tokens travel through the webhook delivery queue (0006) and its retries. Such a row names no
-- webhook (it goes to the app's backchannel_logout_uri) and its event is 'backchannel_logout'; its
-- payload holds the token's subject and session, and the worker signs the token when it sends it (the
-- token lives two minutes; a retry may come hours later).
ALTER TABLE webhook_deliveries ALTER COLUMN webhook_id DROP NOT NULL;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_target_check
  CHECK ((webhook_id IS NULL) = (event = 'backchannel_logout'));

-- Which apps a session signed in to through /authorize (its redeemed codes), when the session ends.
CREATE INDEX authorization_codes_session_idx ON authorization_codes (session_id) WHERE session_id IS NOT NULL;
