// Keyset pages over refresh tokens for the Admin API: a user's tokens, an app's tokens (seed 001's
// inventory), a user's live sign-ins. Newest first by (created_at desc, jti), the order of
// refresh_tokens_user_created_idx and refresh_tokens_app_created_idx (0028); the position is the
// previous page's last row, looked up by its jti.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { RefreshTokenRow } from '../../storage/schema.js';
import { liveRefreshToken } from './live.js';
import { inUserIndexOrder } from './token-inventory-store.js';

export interface TokenPageFilter {
  userId?: string | undefined;
  appId?: string | undefined;
  /** Only these apps' tokens (a scoped admin); undefined: every app. */
  appIds?: readonly string[] | undefined;
  /** Only tokens live at this instant. */
  liveAt?: Date | undefined;
  /** Only refresh keys (issued by an admin). */
  keysOnly?: boolean | undefined;
  afterJti?: string | undefined;
  limit: number;
}

export async function listTokensPage(db: Db, f: TokenPageFilter): Promise<RefreshTokenRow[]> {
  if (f.appIds && f.appIds.length === 0) return [];
  return inUserIndexOrder(db, async (trx) => {
    let q = trx.selectFrom('refresh_tokens as t').selectAll('t');
    if (f.userId) q = q.where('t.user_id', '=', f.userId);
    if (f.appId) q = q.where('t.app_id', '=', f.appId);
    if (f.appIds) q = q.where('t.app_id', 'in', [...f.appIds]);
    if (f.liveAt) q = q.where('t.successor_jti', 'is', null).where(liveRefreshToken('t', f.liveAt));
    if (f.keysOnly) q = q.where('t.issued_by', 'is not', null);
    if (f.afterJti) {
      const p = f.afterJti;
      q = q.where(
        sql<boolean>`exists (select 1 from refresh_tokens p where p.jti = ${p}
          and (t.created_at < p.created_at or (t.created_at = p.created_at and t.jti > p.jti)))`,
      );
    }
    return q.orderBy('t.created_at', 'desc').orderBy('t.jti').limit(f.limit).execute();
  });
}

export async function findTokenByJti(db: Db, jti: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('jti', '=', jti).executeTakeFirst();
}

/** One row of each family id given (any), to learn its user and app. */
export async function findFamilyToken(db: Db, familyId: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('family_id', '=', familyId).limit(1).executeTakeFirst();
}

/** The apps in which the user holds a live token, within `appIds` when given. */
export async function liveAppsOfUser(db: Db, userId: string, now: Date, appIds: readonly string[] | undefined): Promise<string[]> {
  if (appIds && appIds.length === 0) return [];
  let q = db
    .selectFrom('refresh_tokens as t')
    .select('t.app_id')
    .distinct()
    .where('t.user_id', '=', userId)
    .where('t.successor_jti', 'is', null)
    .where(liveRefreshToken('t', now));
  if (appIds) q = q.where('t.app_id', 'in', [...appIds]);
  return (await q.execute()).map((r) => r.app_id);
}
