// Read and bulk-revoke queries for the token inventory (CLI) and the user's own sessions (account API).
// A "session" here is a refresh-token family: one sign-in on one device for one app.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { RefreshTokenRow } from '../../storage/schema.js';

export async function listRefreshTokens(
  db: Db,
  f: { userId?: string | undefined; appId?: string | undefined; familyId?: string | undefined; liveAt?: Date | undefined; limit: number },
): Promise<RefreshTokenRow[]> {
  let q = db.selectFrom('refresh_tokens').selectAll();
  if (f.userId) q = q.where('user_id', '=', f.userId);
  if (f.appId) q = q.where('app_id', '=', f.appId);
  if (f.familyId) q = q.where('family_id', '=', f.familyId);
  if (f.liveAt) q = q.where('revoked_at', 'is', null).where('rotated_at', 'is', null).where('expires_at', '>', f.liveAt);
  return q.orderBy('created_at', 'desc').orderBy('jti').limit(f.limit).execute();
}

export async function findRefreshTokenByJti(db: Db, jti: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('jti', '=', jti).executeTakeFirst();
}

export interface FamilySummary {
  family_id: string;
  app_id: string;
  app_name: string;
  started_at: Date;
  last_used_at: Date | null;
  expires_at: Date;
  user_agent: string | null;
  ip: string | null;
  session_id: string | null;
}

/** A user's live families: the head token (neither rotated, revoked nor expired) with its family's first sign-in time. */
export async function listLiveFamilies(db: Db, userId: string, now: Date): Promise<FamilySummary[]> {
  return db
    .selectFrom('refresh_tokens as h')
    .innerJoin('apps as a', 'a.app_id', 'h.app_id')
    .where('h.user_id', '=', userId)
    .where('h.revoked_at', 'is', null)
    .where('h.rotated_at', 'is', null)
    .where('h.expires_at', '>', now)
    .select([
      'h.family_id',
      'h.app_id',
      'a.name as app_name',
      'h.expires_at',
      // The device is the one that signed in (the family's first token); refreshes often come from an app's backend.
      sql<string | null>`(select f.user_agent from refresh_tokens f where f.family_id = h.family_id order by f.created_at limit 1)`.as(
        'user_agent',
      ),
      sql<string | null>`(select f.ip from refresh_tokens f where f.family_id = h.family_id order by f.created_at limit 1)`.as('ip'),
      'h.session_id',
      sql<Date>`(select min(f.created_at) from refresh_tokens f where f.family_id = h.family_id)`.as('started_at'),
      sql<Date | null>`(select max(f.last_used_at) from refresh_tokens f where f.family_id = h.family_id)`.as('last_used_at'),
    ])
    .orderBy('h.created_at', 'desc')
    .execute();
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
