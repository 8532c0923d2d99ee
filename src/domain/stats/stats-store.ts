// Counts for the Admin API's overview. `appIds` confines each count to those apps (a scoped admin);
// undefined counts everything. An empty list counts nothing.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import { liveRefreshToken } from '../tokens/live.js';

type Scope = readonly string[] | undefined;

const n = (r: { n: string | number | bigint } | undefined) => Number(r?.n ?? 0);

/** Users: every user, or the members of the apps in scope. */
export async function countUsers(db: Db, appIds: Scope): Promise<number> {
  if (appIds === undefined)
    return n(
      await db
        .selectFrom('users')
        .select(sql<string>`count(*)`.as('n'))
        .executeTakeFirst(),
    );
  if (appIds.length === 0) return 0;
  return n(
    await db
      .selectFrom('memberships')
      .select(sql<string>`count(distinct user_id)`.as('n'))
      .where('app_id', 'in', [...appIds])
      .executeTakeFirst(),
  );
}

/** Apps, the built-in Console app aside. */
export async function countApps(db: Db, appIds: Scope): Promise<number> {
  if (appIds !== undefined && appIds.length === 0) return 0;
  let q = db
    .selectFrom('apps')
    .select(sql<string>`count(*)`.as('n'))
    .where('builtin', 'is', null);
  if (appIds) q = q.where('app_id', 'in', [...appIds]);
  return n(await q.executeTakeFirst());
}

/** Live SSO sessions; in scope, those that signed in to one of the apps. */
export async function countLiveSsoSessions(db: Db, now: Date, appIds: Scope): Promise<number> {
  if (appIds !== undefined && appIds.length === 0) return 0;
  let q = db
    .selectFrom('sessions as s')
    .select(sql<string>`count(distinct s.id)`.as('n'))
    .where('s.revoked_at', 'is', null)
    .where('s.expires_at', '>', now);
  if (appIds) {
    const scoped = [...appIds];
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('refresh_tokens as t')
          .select(sql`1`.as('one'))
          .whereRef('t.session_id', '=', 's.id')
          .where('t.app_id', 'in', scoped),
      ),
    );
  }
  return n(await q.executeTakeFirst());
}

/** Live refresh tokens: one per live sign-in (a family has one unrotated token). */
export async function countLiveRefreshTokens(db: Db, now: Date, appIds: Scope): Promise<number> {
  if (appIds !== undefined && appIds.length === 0) return 0;
  let q = db
    .selectFrom('refresh_tokens as t')
    .select(sql<string>`count(*)`.as('n'))
    .where('t.successor_jti', 'is', null)
    .where(liveRefreshToken('t', now));
  if (appIds) q = q.where('t.app_id', 'in', [...appIds]);
  return n(await q.executeTakeFirst());
}
