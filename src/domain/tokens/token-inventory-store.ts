// Read and bulk-revoke queries for the token inventory (CLI) and the user's own sessions (account API).
// A "session" here is a refresh-token family: one sign-in on one device for one app.
import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { RefreshTokenRow } from '../../storage/schema.js';
import { prepared } from '../../storage/prepared.js';
import { liveRefreshToken, liveRefreshTokenSql } from './live.js';

export interface RefreshTokenFilter {
  userId?: string | undefined;
  appId?: string | undefined;
  familyId?: string | undefined;
  liveAt?: Date | undefined;
  limit: number;
}

export async function listRefreshTokens(db: Db, f: RefreshTokenFilter): Promise<RefreshTokenRow[]> {
  if (!f.userId || f.familyId) return refreshTokensQuery(db, f).execute();
  return inUserIndexOrder(db, (trx) => refreshTokensQuery(trx, f).execute());
}

/**
 * Runs `fn` in a transaction whose plans never sort: a user's tokens are then read in the order of
 * their index (the session list's and tokens list's ORDER BY is the index's), only as far as the limit. Left to its statistics, the planner estimates any one user
 * at a few rows (a user outside the most-common-values list, or statistics older than a bulk insert)
 * and chooses to fetch all of them and sort: every row of a long history, 0.5 s at 300,000 rows.
 */
export async function inUserIndexOrder<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`set local enable_sort = off`.execute(trx);
    return fn(trx);
  });
}

/**
 * Newest first. With a user (and inUserIndexOrder), the first rows of refresh_tokens_user_created_idx
 * (or, live only, of refresh_tokens_user_live_idx) in the order asked, so `limit` bounds what is read.
 * Its plan is checked in test/storage/history-plans.test.ts.
 */
export function refreshTokensQuery(db: Db, f: RefreshTokenFilter) {
  let q = db.selectFrom('refresh_tokens').selectAll();
  if (f.userId) q = q.where('user_id', '=', f.userId);
  if (f.appId) q = q.where('app_id', '=', f.appId);
  if (f.familyId) q = q.where('family_id', '=', f.familyId);
  // successor_jti is null: how refresh_tokens_user_live_idx spells "not rotated" (0011).
  if (f.liveAt) q = q.where('successor_jti', 'is', null).where(liveRefreshToken('refresh_tokens', f.liveAt));
  return q.orderBy('created_at', 'desc').orderBy('jti').limit(f.limit);
}

export async function findRefreshTokenByJti(db: Db, jti: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('jti', '=', jti).executeTakeFirst();
}

/** A live family as the session list shows it; times are ISO 8601 strings in UTC, as the API sends them. */
export interface FamilySummary {
  family_id: string;
  app_id: string;
  app_name: string;
  started_at: string;
  last_used_at: string | null;
  expires_at: string;
  user_agent: string | null;
  ip: string | null;
  session_id: string | null;
  /** The live token's jti: where the next page starts after this row. */
  position: string;
}

/** A timestamptz as Date.prototype.toISOString writes it, by Postgres: 4,000 Date parses and formats less per 1,000 families. */
const iso = (e: string) => `to_char(${e} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * listLiveFamilies' statement ($1 the user, $2 now, $3 the position of the previous page's last row
 * or null, $4 how many rows): one row per family, its live token (neither
 * rotated, revoked nor expired), found through refresh_tokens_user_live_idx (whose predicate says
 * "not rotated" as successor_jti is null, so the rotation's statement never reads that index). The
 * token carries the family's sign-in (0011), and the family was last used when its live token was
 * issued by a rotation (the statement that spent its parent), so no older token of the family is
 * read: the cost follows the number of families, not of rotations. Static and prepared: planning it
 * was ~1.3 ms of 7. Its plan is checked in test/storage/history-plans.test.ts.
 */
export const LIVE_FAMILIES_SQL = prepared(`
  select h.family_id, h.app_id, a.name as app_name, ${iso('h.expires_at')} as expires_at,
         -- The device is the one that signed in; refreshes often come from an app's backend.
         h.family_user_agent as user_agent, h.family_ip as ip, h.session_id,
         ${iso('coalesce(h.family_started_at, h.created_at)')} as started_at,
         case when h.parent_jti is not null then ${iso('h.created_at')} end as last_used_at,
         h.jti as position
    from refresh_tokens h
    join apps a on a.app_id = h.app_id
    left join refresh_tokens p on p.jti = $3::uuid
   where h.user_id = $1 and h.successor_jti is null and ${liveRefreshTokenSql('h', '$2')}
     and ($3::uuid is null or h.created_at < p.created_at or (h.created_at = p.created_at and h.jti > p.jti))
   order by h.created_at desc, h.jti
   limit $4`);

/** A page of a user's live families, newest sign-in activity first (LIVE_FAMILIES_SQL), after `after` (a row's position). */
export async function listLiveFamilies(
  db: Db,
  userId: string,
  now: Date,
  page: { after?: string | undefined; limit: number },
): Promise<FamilySummary[]> {
  // In index order, so by the live index whatever the statistics say: when one user holds most of
  // the table the planner multiplied "this user" by "not rotated" (other users' live tokens count
  // too) and chose a sequential scan, 200 ms of Postgres for 1,000 rows.
  return inUserIndexOrder(
    db,
    async (trx) =>
      (await trx.executeQuery<FamilySummary>(CompiledQuery.raw(LIVE_FAMILIES_SQL, [userId, now, page.after ?? null, page.limit]))).rows,
  );
}

/** Revokes the still-live tokens of one family of `userId`; returns how many. */
export async function revokeUserFamily(db: Db, userId: string, familyId: string, now: Date, reason: string): Promise<number> {
  const res = await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Ends every live SSO session of a user; returns their ids. */
export async function revokeUserSessions(db: Db, userId: string, now: Date): Promise<string[]> {
  const rows = await db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

export async function appsForUser(db: Db, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('refresh_tokens').select('app_id').distinct().where('user_id', '=', userId).execute();
  return rows.map((r) => r.app_id);
}

export async function appsForSession(db: Db, sessionId: string): Promise<string[]> {
  const rows = await db.selectFrom('refresh_tokens').select('app_id').distinct().where('session_id', '=', sessionId).execute();
  return rows.map((r) => r.app_id);
}

/** The (app, session) pairs of the user's refresh tokens issued in `sessionIds`: through the user's index, bounded by their history. */
export async function appSessionsForUser(db: Db, userId: string, sessionIds: string[]): Promise<{ app_id: string; session_id: string }[]> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .selectFrom('refresh_tokens')
    .select(['app_id', 'session_id'])
    .distinct()
    .where('user_id', '=', userId)
    .where('session_id', 'in', sessionIds)
    .execute();
  return rows.flatMap((r) => (r.session_id ? [{ app_id: r.app_id, session_id: r.session_id }] : []));
}
