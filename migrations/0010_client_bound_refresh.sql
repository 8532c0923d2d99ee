-- Refresh tokens issued under client authentication are refreshed only with that client's
-- authentication (RFC 6749 §6, RFC 9700 §4.14.2; DESIGN.md §7 rule 15). A family's first token is
-- bound when a confidential client redeemed an authorization code with its secret at POST /token;
-- every successor copies the flag from its parent. Tokens of the hosted /login flow and the account
-- API are not bound (nothing authenticated the client there).
ALTER TABLE refresh_tokens ADD COLUMN client_bound boolean NOT NULL DEFAULT false;

-- Backfill: only families provably issued under client authentication, everything else stays unbound
-- (the documented /token/refresh behaviour). Proof, all of:
--   * the family was issued by an authorization code that was redeemed (its family_id is fixed on
--     the code, and nothing else issues a family with that id);
--   * the app is confidential now and has not been updated since the code was redeemed
--     (apps.updated_at <= used_at; updateApp is the only writer of client_type and always sets
--     updated_at), so it was confidential at the redemption; since 0003 introduced codes, /token has
--     redeemed a confidential client's code only with its client secret.
-- Not provable, so not bound: families whose code was pruned (housekeeping deletes codes
-- KEYMASTER_PRUNE_RETENTION_DAYS after they expire), and families of apps updated after their code
-- was redeemed (updated_at does not say whether client_type changed). Those keep refreshing without
-- client authentication until they end; docs/SECURITY.md names the gap.
UPDATE refresh_tokens t
   SET client_bound = true
  FROM authorization_codes c
  JOIN apps a ON a.app_id = c.app_id
 WHERE t.family_id = c.family_id
   AND t.app_id = c.app_id
   AND c.used_at IS NOT NULL
   AND a.client_type = 'confidential'
   AND a.updated_at <= c.used_at;
