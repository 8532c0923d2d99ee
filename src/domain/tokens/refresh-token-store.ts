// refresh_tokens queries. Tokens are found by SHA-256 hash only; spending is one conditional UPDATE so
// Postgres decides which of several concurrent presenters wins (DESIGN.md §4.5).
import { CompiledQuery } from 'kysely';
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

/** What the refresh fast path needs from a token and its user (only these: each column costs parsing). */
export interface LiveTokenRead {
  family_id: string;
  user_id: string;
  scope: string | null;
  /** Of `appId`, not rotated, not revoked, not expired at `now`, and its user not disabled. */
  live: boolean;
  u_email: string;
  u_name: string | null;
  u_roles: string[];
}

/**
 * A token and the claims of its user in one round trip (the refresh fast path reads before it signs).
 * Liveness is decided in SQL, so no timestamp has to be parsed.
 */
export async function findLiveTokenWithUser(db: Db, tokenHash: string, appId: string, now: Date): Promise<LiveTokenRead | undefined> {
  const res = await db.executeQuery<LiveTokenRead>(CompiledQuery.raw(FIND_LIVE_SQL, [appId, now.toISOString(), tokenHash]));
  return res.rows[0];
}

// The two fast-path statements are static text with positional parameters (CompiledQuery.raw): a
// Kysely builder or sql`` template is compiled again on every call, ~30-70 us each on this path.
const FIND_LIVE_SQL = `
  select t.family_id, t.user_id, t.scope,
         (t.app_id = $1::uuid and t.rotated_at is null and t.revoked_at is null
          and t.expires_at > $2::timestamptz and u.disabled_at is null) as live,
         u.email as u_email, u.name as u_name, u.roles as u_roles
    from refresh_tokens t join users u on u.id = t.user_id
   where t.token_hash = $3`;

/**
 * Spends a live token and inserts its successor in ONE statement (atomic without BEGIN/COMMIT): the
 * UPDATE decides the race exactly as spendRefreshToken does, and additionally requires the user to be
 * enabled and the row to be the one the caller read (same family and user); the INSERT only runs for a
 * spent row and copies the family's columns (family, app, user, session, scope, auth_time) from it.
 * Returns false when nothing was spent: the caller classifies that case in a transaction.
 */
export async function spendAndInsertSuccessor(
  db: Db,
  spend: { tokenHash: string; appId: string; userId: string; familyId: string; now: Date },
  child: { jti: string; token_hash: string; claims: string; expires_at: Date; user_agent: string | null; ip: string | null; pair_enc: string | null; reuse_until: Date | null },
): Promise<boolean> {
  const { tokenHash, appId, userId, familyId } = spend;
  const params = [
    spend.now.toISOString(), child.jti, tokenHash, appId, userId, familyId, child.token_hash, child.claims,
    child.expires_at.toISOString(), child.user_agent, child.ip, child.pair_enc, child.reuse_until?.toISOString() ?? null,
  ];
  const res = await db.executeQuery<{ jti: string }>(CompiledQuery.raw(SPEND_AND_INSERT_SQL, params));
  return res.rows.length === 1;
}

const SPEND_AND_INSERT_SQL = `
  with spent as (
    update refresh_tokens
       set rotated_at = $1::timestamptz, last_used_at = $1::timestamptz, successor_jti = $2::uuid
     where token_hash = $3 and app_id = $4::uuid and user_id = $5::uuid and family_id = $6::uuid
       and rotated_at is null and revoked_at is null and expires_at > $1::timestamptz
       and exists (select 1 from users where users.id = refresh_tokens.user_id and users.disabled_at is null)
    returning jti, family_id, app_id, user_id, session_id, scope, auth_time
  )
  insert into refresh_tokens
    (jti, token_hash, family_id, parent_jti, app_id, user_id, session_id, scope, claims, auth_time,
     created_at, expires_at, user_agent, ip, pair_enc, reuse_until)
  select $2::uuid, $7::text, spent.family_id, spent.jti, spent.app_id, spent.user_id, spent.session_id,
         spent.scope, $8::jsonb, spent.auth_time, $1::timestamptz, $9::timestamptz, $10::text, $11::text,
         $12::text, $13::timestamptz
    from spent
  returning jti`;
