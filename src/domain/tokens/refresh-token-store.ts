// refresh_tokens queries. Tokens are found by SHA-256 hash only; spending is one conditional UPDATE so
// Postgres decides which of several concurrent presenters wins (DESIGN.md §4.5).
import type { Db } from '../../storage/db.js';
import type { NewRefreshToken, RefreshTokenRow } from '../../storage/schema.js';

export async function insertRefreshToken(db: Db, row: NewRefreshToken): Promise<RefreshTokenRow> {
  return db.insertInto('refresh_tokens').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Marks a live token of `appId` as rotated and links its successor; returns it, or nothing if it was not live. */
export async function spendRefreshToken(
  db: Db,
  tokenHash: string,
  appId: string,
  successorJti: string,
  now: Date,
): Promise<RefreshTokenRow | undefined> {
  return db
    .updateTable('refresh_tokens')
    .set({ rotated_at: now, last_used_at: now, successor_jti: successorJti })
    .where('token_hash', '=', tokenHash)
    .where('app_id', '=', appId)
    .where('rotated_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

export async function findRefreshTokenByHash(db: Db, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export async function findRefreshTokenByJti(db: Db, jti: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('jti', '=', jti).executeTakeFirst();
}

/** Revokes every still-live token of a family; returns how many were revoked. */
export async function revokeFamily(db: Db, familyId: string, now: Date, reason: string): Promise<number> {
  const res = await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now, revoked_reason: reason, pair_enc: null })
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export async function revokeUserTokens(db: Db, userId: string, now: Date, reason: string): Promise<number> {
  const res = await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now, revoked_reason: reason, pair_enc: null })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
