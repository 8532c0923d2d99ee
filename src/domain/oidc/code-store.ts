// authorization_codes queries. A code is spent by one conditional UPDATE, so of two concurrent
// redemptions exactly one wins (DESIGN.md §4.6).
import type { Db } from '../../storage/db.js';
import type { AuthorizationCodeRow, NewAuthorizationCode } from '../../storage/schema.js';

export async function insertCode(db: Db, row: NewAuthorizationCode): Promise<void> {
  await db.insertInto('authorization_codes').values(row).execute();
}

/** Marks a live, unused code of `appId` as used and returns it; nothing if it was not redeemable. */
export async function spendCode(db: Db, codeHash: string, appId: string, now: Date): Promise<AuthorizationCodeRow | undefined> {
  return db
    .updateTable('authorization_codes')
    .set({ used_at: now })
    .where('code_hash', '=', codeHash)
    .where('app_id', '=', appId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Spends every live, unused code of `userId` for `appId` (a connected app revoked); how many. */
export async function spendUserCodes(db: Db, userId: string, appId: string, now: Date): Promise<number> {
  const r = await db
    .updateTable('authorization_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('app_id', '=', appId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Records a second redemption attempt of a used code of `appId`; returns the row if there was one. */
export async function markCodeReplayed(db: Db, codeHash: string, appId: string, now: Date): Promise<AuthorizationCodeRow | undefined> {
  return db
    .updateTable('authorization_codes')
    .set({ replayed_at: now })
    .where('code_hash', '=', codeHash)
    .where('app_id', '=', appId)
    .where('used_at', 'is not', null)
    .returningAll()
    .executeTakeFirst();
}

export async function findCode(db: Db, codeHash: string): Promise<AuthorizationCodeRow | undefined> {
  return db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
}

/** The (app, session) pairs of the codes redeemed in `sessionIds`: every code-flow sign-in of those sessions. */
export async function appSessionsOfRedeemedCodes(db: Db, sessionIds: string[]): Promise<{ app_id: string; session_id: string }[]> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .selectFrom('authorization_codes')
    .select(['app_id', 'session_id'])
    .distinct()
    .where('session_id', 'in', sessionIds)
    .where('used_at', 'is not', null)
    .execute();
  return rows.flatMap((r) => (r.session_id ? [{ app_id: r.app_id, session_id: r.session_id }] : []));
}
