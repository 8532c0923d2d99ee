-- Flat history (issue 19): reading a user's sessions and tokens costs the same whatever the number of
-- rotations behind them.
--
-- Every refresh token carries its family's sign-in (when, from which device and address), copied from
-- the parent at each rotation like session_id and scope: the live token alone answers the session
-- list, without reading the family's history (which housekeeping may also have pruned in part).
ALTER TABLE refresh_tokens
  ADD COLUMN IF NOT EXISTS family_started_at timestamptz,
  ADD COLUMN IF NOT EXISTS family_user_agent text,
  ADD COLUMN IF NOT EXISTS family_ip text;

-- Only tokens that can still be listed or rotated need it: those neither rotated nor revoked. Each
-- takes the first token of its family (as the session list did before). Before the indexes below, so
-- that the update does not maintain them.
UPDATE refresh_tokens h
   SET (family_started_at, family_user_agent, family_ip) = (
         SELECT f.created_at, f.user_agent, f.ip
           FROM refresh_tokens f
          WHERE f.family_id = h.family_id
          ORDER BY f.created_at, f.jti
          LIMIT 1)
 WHERE h.rotated_at IS NULL AND h.revoked_at IS NULL AND h.family_started_at IS NULL;

-- A user's tokens newest first (`keymaster tokens list --user`): the first rows of the index, in order.
-- It replaces the index on user_id alone, which it also serves. IF NOT EXISTS: an operator may build
-- both beforehand with CREATE INDEX CONCURRENTLY under these names (docs/OPERATIONS.md).
CREATE INDEX IF NOT EXISTS refresh_tokens_user_created_idx ON refresh_tokens (user_id, created_at DESC, jti);
DROP INDEX IF EXISTS refresh_tokens_user_idx;

-- A user's tokens that are neither rotated nor revoked: one entry per family, whatever its history.
-- "Not rotated" is spelled successor_jti IS NULL (a rotation sets it with rotated_at, in the same
-- UPDATE): the rotation's own WHERE (rotated_at IS NULL AND revoked_at IS NULL) must not imply this
-- predicate, or the planner may read the whole index to find the one token it spends (seen with
-- statistics older than the rows: 30-40 ms a refresh). The queries that use it state both.
CREATE INDEX IF NOT EXISTS refresh_tokens_user_live_idx ON refresh_tokens (user_id, created_at DESC, jti)
  WHERE successor_jti IS NULL AND revoked_at IS NULL;
