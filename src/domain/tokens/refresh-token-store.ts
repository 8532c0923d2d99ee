// refresh_tokens queries. Tokens are found by SHA-256 hash only; spending is one conditional UPDATE so
// Postgres decides which of several concurrent presenters wins (DESIGN.md §4.5).
import { sql } from 'kysely';
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

export type RefreshTokenWithUser = RefreshTokenRow & {
  u_email: string;
  u_name: string | null;
  u_roles: string[];
  u_disabled_at: Date | null;
};

/** A token and the claims of its user, in one round trip (the refresh fast path reads before it spends). */
export async function findRefreshTokenWithUser(db: Db, tokenHash: string): Promise<RefreshTokenWithUser | undefined> {
  return db
    .selectFrom('refresh_tokens')
    .innerJoin('users', 'users.id', 'refresh_tokens.user_id')
    .selectAll('refresh_tokens')
    .select(['users.email as u_email', 'users.name as u_name', 'users.roles as u_roles', 'users.disabled_at as u_disabled_at'])
    .where('refresh_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/**
 * Spends a live token and inserts its successor in ONE statement (atomic without BEGIN/COMMIT): the
 * UPDATE decides the race exactly as spendRefreshToken does, and additionally requires the user to be
 * enabled and the row to be the one the caller read (same family and user); the INSERT only runs for a
 * spent row. Returns false when nothing was spent: the caller classifies that case in a transaction.
 */
export async function spendAndInsertSuccessor(
  db: Db,
  spend: { tokenHash: string; appId: string; userId: string; familyId: string; now: Date },
  child: NewRefreshToken & { jti: string },
): Promise<boolean> {
  const { tokenHash, appId, userId, familyId, now } = spend;
  const res = await sql<{ jti: string }>`
    with spent as (
      update refresh_tokens
         set rotated_at = ${now}, last_used_at = ${now}, successor_jti = ${child.jti}
       where token_hash = ${tokenHash} and app_id = ${appId} and user_id = ${userId} and family_id = ${familyId}
         and rotated_at is null and revoked_at is null and expires_at > ${now}
         and exists (select 1 from users where users.id = refresh_tokens.user_id and users.disabled_at is null)
      returning jti
    )
    insert into refresh_tokens
      (jti, token_hash, family_id, parent_jti, app_id, user_id, session_id, scope, claims, auth_time,
       created_at, expires_at, user_agent, ip, pair_enc, reuse_until)
    select ${child.jti}::uuid, ${child.token_hash}::text, ${child.family_id}::uuid, spent.jti, ${child.app_id}::uuid,
           ${child.user_id}::uuid, ${child.session_id ?? null}::uuid, ${child.scope ?? null}::text, ${child.claims}::jsonb,
           ${child.auth_time ?? null}::timestamptz, ${child.created_at ?? now}::timestamptz, ${child.expires_at}::timestamptz,
           ${child.user_agent ?? null}::text, ${child.ip ?? null}::text, ${child.pair_enc ?? null}::text,
           ${child.reuse_until ?? null}::timestamptz
      from spent
    returning jti`.execute(db);
  return res.rows.length === 1;
}
