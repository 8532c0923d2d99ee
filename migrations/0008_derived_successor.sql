-- Refresh-token successors are now derived from their parent (HMAC-SHA256 under a key derived from
-- KEYMASTER_SECRET), so the reuse grace no longer keeps the issued pair: no token is stored, not even
-- encrypted. reuse_until stays (it bounds the grace per successor).
DROP INDEX IF EXISTS refresh_tokens_reuse_until_idx;
ALTER TABLE refresh_tokens DROP COLUMN pair_enc;
