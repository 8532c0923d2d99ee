// refresh_tokens queries. Tokens are found by SHA-256 hash only; spending is one conditional UPDATE so
// Postgres decides which of several concurrent presenters wins (DESIGN.md §4.5).
import { CompiledQuery } from 'kysely';
import type { Db } from '../../storage/db.js';
import { prepared } from '../../storage/prepared.js';
import type { NewRefreshToken, RefreshTokenRow } from '../../storage/schema.js';
import { clientBinding, clientBindingSql, liveRefreshToken, liveRefreshTokenSql } from './live.js';

export async function insertRefreshToken(db: Db, row: NewRefreshToken): Promise<RefreshTokenRow> {
  return db.insertInto('refresh_tokens').values(row).returningAll().executeTakeFirstOrThrow();
}

/**
 * Marks a live token of `appId` as rotated and links its successor; returns it, or nothing if it was
 * not live or is bound to a client the presenter did not authenticate as.
 */
export async function spendRefreshToken(
  db: Db,
  tokenHash: string,
  appId: string,
  successorJti: string,
  now: Date,
  clientAuthenticated: boolean,
): Promise<RefreshTokenRow | undefined> {
  return db
    .updateTable('refresh_tokens')
    .set({ rotated_at: now, last_used_at: now, successor_jti: successorJti })
    .where('token_hash', '=', tokenHash)
    .where('app_id', '=', appId)
    .where(liveRefreshToken('refresh_tokens', now))
    .where(clientBinding('refresh_tokens', clientAuthenticated))
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
    .set({ revoked_at: now, revoked_reason: reason })
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export async function revokeUserTokens(db: Db, userId: string, now: Date, reason: string): Promise<number> {
  const res = await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** The user's claims a Keymaster sign-in's access token carries (seed 000). */
export interface SignInClaims {
  email: string;
  name: string | null;
  roles: string[];
}

/**
 * What a rotation needs back: the user's claims (for the access token), the family's scope, and its
 * session and auth_time (for an ID token). A family with a scope (an OAuth grant) gets the claims its
 * scope may ask for too: email_verified, and updated_at in epoch seconds (OIDC Core §5.1).
 */
export type Rotated = {
  user_id: string;
  family_id: string;
  session_id: string | null;
  auth_time: Date | null;
} & ({ scope: null; claims: SignInClaims } | { scope: string; claims: SignInClaims & { email_verified: boolean; updated_at: number } });

export interface RotationSpend {
  tokenHash: string;
  appId: string;
  now: Date;
  /** The presenter authenticated as `appId` (a client-bound token is spent only then). */
  clientAuthenticated: boolean;
}

export interface RotationSuccessor {
  jti: string;
  tokenHash: string;
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
  reuseUntil: Date | null;
}

/**
 * Rotation in ONE statement (atomic without BEGIN/COMMIT): spends the live token of `appId` whose
 * user is enabled — the conditional UPDATE decides the race exactly as spendRefreshToken does — and
 * inserts its successor, which copies the family's columns (its sign-in too) from the spent row and the user's current
 * claims from users and their roles from the membership of the app (an active one: else nothing is spent) (for a family with a scope, with email_verified and updated_at: see Rotated). Returns those claims, or nothing when nothing was spent (the caller classifies).
 */
export async function rotateInOneStatement(db: Db, spend: RotationSpend, successor: RotationSuccessor): Promise<Rotated | undefined> {
  return (await rotateManyInOneStatement(db, [{ spend, successor }])).get(successor.jti);
}

/**
 * rotateInOneStatement for several presented tokens at once (distinct hashes), in ONE statement and
 * so one transaction and one commit: each row is decided exactly as alone (the conditional UPDATE per
 * token; a token that is not live spends nothing and gets no row). Returns the rotated ones, keyed by
 * their successor's jti. The rows arrive as one jsonb array (the same on pg and PGlite).
 */
export async function rotateManyInOneStatement(
  db: Db,
  items: { spend: RotationSpend; successor: RotationSuccessor }[],
): Promise<Map<string, Rotated>> {
  const input = JSON.stringify(
    items.map(({ spend, successor }) => ({
      now: spend.now.toISOString(),
      successor_jti: successor.jti,
      token_hash: spend.tokenHash,
      app_id: spend.appId,
      client_authenticated: spend.clientAuthenticated,
      successor_hash: successor.tokenHash,
      expires_at: successor.expiresAt.toISOString(),
      user_agent: successor.userAgent,
      ip: successor.ip,
      reuse_until: successor.reuseUntil?.toISOString() ?? null,
    })),
  );
  const res = await db.executeQuery<Rotated & { jti: string }>(CompiledQuery.raw(ROTATE_SQL, [input]));
  return new Map(res.rows.map(({ jti, ...rotated }) => [jti, rotated]));
}

// Static text (CompiledQuery.raw): a Kysely builder or sql`` template is compiled again on every call,
// measurable on the hottest path (docs/PERFORMANCE.md). Prepared: Postgres plans it once per connection.
// The plan is fixed by the text, whatever the statistics say: jsonb_to_recordset is estimated at 100
// rows, and with stale statistics (a fresh table, a bulk insert) a join of those rows with
// refresh_tokens was planned as a sequential scan (docs/PERFORMANCE.md has what it cost).
// So each input row finds its token through the unique token_hash index (a LATERAL lookup with LIMIT 1
// is not flattened into a join the planner could reorder), and the UPDATE takes its rows by primary
// key from an array (`jti = any(array(...))`, an index condition estimated at a few rows).
export const ROTATE_SQL = prepared(`
  with input as (
    select * from jsonb_to_recordset($1::jsonb) as i(
      now timestamptz, successor_jti uuid, token_hash text, app_id uuid, client_authenticated boolean,
      successor_hash text, expires_at timestamptz, user_agent text, ip text, reuse_until timestamptz)
  ), found as materialized (
    select i.*, x.jti as parent_jti, x.claims
      from input i
      cross join lateral (
        select t.jti,
               case when t.scope is null then jsonb_build_object('email', u.email, 'name', u.name, 'roles', coalesce(m.roles, '{}'))
                    else jsonb_build_object('email', u.email, 'name', u.name, 'roles', coalesce(m.roles, '{}'),
                      'email_verified', u.email_verified_at is not null,
                      'updated_at', floor(extract(epoch from u.updated_at))::bigint) end as claims
          from refresh_tokens t
          join users u on u.id = t.user_id
          left join memberships m on m.user_id = t.user_id and m.app_id = t.app_id
         where t.token_hash = i.token_hash and u.disabled_at is null
           -- The roles are the membership's of this app (issue 14); a membership that is not active
           -- spends nothing here, and the slow path refuses it. The built-in Console app needs no
           -- membership, an admin tier (memberships.ts admitToApp): also left to the slow path.
           and m.status = 'active'
         limit 1
      ) x
  ), spent as (
    update refresh_tokens t
       set rotated_at = f.now, last_used_at = f.now, successor_jti = f.successor_jti
      from found f
     where t.jti = any(array(select parent_jti from found)) and t.jti = f.parent_jti and t.app_id = f.app_id
       and ${liveRefreshTokenSql('t', 'f.now')}
       and ${clientBindingSql('t', 'f.client_authenticated')}
    returning f.now, f.successor_jti, f.successor_hash, f.expires_at, f.user_agent, f.ip, f.reuse_until,
              f.claims, t.jti, t.family_id, t.app_id, t.user_id, t.session_id, t.scope, t.auth_time, t.client_bound,
              coalesce(t.family_started_at, t.created_at) as family_started_at, t.family_user_agent, t.family_ip,
              t.family_expires_at, t.issued_by
  )
  insert into refresh_tokens
    (jti, token_hash, family_id, parent_jti, app_id, user_id, session_id, scope, claims, auth_time,
     created_at, expires_at, user_agent, ip, reuse_until, client_bound, family_started_at, family_user_agent, family_ip,
     family_expires_at, issued_by)
  select successor_jti, successor_hash, family_id, jti, app_id, user_id, session_id, scope, claims,
         -- A refresh key's family never outlives its lifetime (0028).
         auth_time, now, least(expires_at, family_expires_at), user_agent, ip, reuse_until, client_bound,
         family_started_at, family_user_agent, family_ip, family_expires_at, issued_by
    from spent
  returning jti, user_id, family_id, scope, claims, session_id, auth_time`);
