// Refresh tokens: 64 hex chars (a family's first token is 32 random bytes, each successor an HMAC, see
// below), stored as SHA-256, bound to one app, rotated on every use. Each sign-in starts a family; a rotated token presented again is a replay and revokes the whole
// family (RFC 9700 §4.14.2). The race between concurrent presenters is decided by one conditional
// UPDATE, never in process memory.
//
// A successor token is HMAC-SHA256(key derived from KEYMASTER_SECRET, parent token): unpredictable
// without both, and computable again from the parent alone. That makes a rotation ONE statement
// (spend the parent, insert the successor's hash, return the user's claims), after which the access
// token is signed; and it lets the reuse grace work without keeping any token, even encrypted.
//
// Reuse grace (per app, default 10 s, 0 = strict): two tabs refreshing at once must not log the user
// out. The parent presented again before the successor's reuse_until gets the same successor refresh
// token back (derived again) with a freshly signed access token, so every presenter converges on one
// live token.
//
// Lost-response retry: a rotation can commit while its answer never reaches the client (process
// killed, connection cut). The client then presents the parent again, possibly much later. While the
// successor was never used (not rotated, not revoked, not expired), and within KEYMASTER_REFRESH_
// RETRY_WINDOW (default 1 h, at least the reuse interval; reuse_until records it per successor), that
// presentation gets the same successor back too: no replay, no lost session. Once the successor was
// used (or after reuse_until), a presentation of the parent is a replay and revokes that family only.
// The trade-off against RFC 9700 §4.14.2 is in docs/SECURITY.md ("Lost-response retry").
//
// Client binding (RFC 6749 §6): a family issued under client authentication (a confidential client's
// code exchange at /token) is client_bound, and so is every successor. Such a token is refreshed only
// by a presenter authenticated as its client; any other presentation is refused before anything is
// spent or classified (no rotation, no reuse grace, no replay revocation), so the token stays usable.
import { randomUUID } from 'node:crypto';
import type { Deps } from '../../deps.js';
import type { RefreshTokenRow } from '../../storage/schema.js';
import { appError } from '../../errors.js';
import { DAY } from '../../lib/clock.js';
import { deriveKey, hmacSha256, randomToken, safeEqual, sha256 } from '../../lib/crypto.js';
import { findCachedApp, type App } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { refreshRoles } from '../memberships/memberships.js';
import { findUserById, type AppUser, type User } from '../users/users.js';
import { issueAccessToken, issueGrantAccessToken, type IssuedAccessToken } from './access-tokens.js';
import { forgetLiveness, grantClaims } from './liveness.js';
import { isLiveRefreshToken, mayPresentRefreshToken } from './live.js';
import * as store from './refresh-token-store.js';
import type { Rotated } from './refresh-token-store.js';

type TokenDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'keys' | 'log' | 'secret' | 'apps' | 'metrics' | 'rotations'>;

/**
 * What a sign-in or a rotation issued, in the domain's words. src/http/token-responses.ts spells it
 * for each contract (Keymaster JSON, the account API's, OAuth's, the hosted sign-in's redirect).
 */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** The family's granted scope (OIDC code flow); null for a Keymaster sign-in. */
  scope: string | null;
  userId: string;
  sessionId: string | null;
  authTime: Date | null;
}

export function reuseIntervalSeconds(deps: Pick<Deps, 'config'>, app: App): number {
  return app.refreshReuseInterval ?? deps.config.refreshReuseInterval;
}

/** How long after a rotation the parent may still get its unused successor: 0 for a strict app, else at least the reuse interval. */
export function retryWindowSeconds(deps: Pick<Deps, 'config'>, app: App): number {
  const interval = reuseIntervalSeconds(deps, app);
  return interval === 0 ? 0 : Math.max(interval, deps.config.refreshRetryWindow);
}

/** The successor of a refresh token: HMAC-SHA256 under a key derived from the secret, hex like randomToken(32). */
export function successorToken(secret: string, parentToken: string): string {
  return hmacSha256(deriveKey(secret, 'refresh-successor'), parentToken);
}

export function refreshTokenTtlMs(deps: Pick<Deps, 'config'>, app: App): number {
  return (app.refreshTokenTtlDays ?? deps.config.refreshTokenTtlDays) * DAY;
}

interface FamilyContext {
  familyId?: string;
  parentJti?: string | null;
  sessionId?: string | null;
  scope?: string | null;
  authTime?: Date | null;
  /** Issued under client authentication (inherited by every successor). */
  clientBound?: boolean;
  /** The family's sign-in; a new family's is this token's own. */
  signIn?: { at: Date | null; userAgent: string | null; ip: string | null };
  /** The access token's resource server (RFC 8707); not kept with the family. */
  resource?: string | null;
  /**
   * How the user signed in (auth-context.ts), from the code: in the first access token only. Not kept
   * with the family, so refreshed tokens omit amr and acr (OIDC Core §12.2 does not require them).
   */
  amr?: string | null;
  /** Claims asked for at /userinfo with `claims` (OIDC Core §5.5): the first access token only, likewise. */
  userinfoClaims?: readonly string[];
  /** A refresh key's bound on the whole family (0028): no token of it expires later. Inherited. */
  familyExpiresAt?: Date | null;
  /** The admin who created the family as a refresh key (0028). Inherited. */
  issuedBy?: string | null;
}

export function newRefreshRow(
  deps: Pick<Deps, 'clock' | 'config'>,
  user: Pick<User, 'id' | 'email' | 'name'> & { roles: string[] },
  app: App,
  ctx: FamilyContext,
  meta: RequestMeta,
  jti = randomUUID(),
  token = randomToken(32),
) {
  const now = deps.clock.now();
  const userAgent = meta.userAgent?.slice(0, 512) ?? null;
  const ip = meta.ip ?? null;
  const signIn = ctx.signIn ?? { at: now, userAgent, ip };
  return {
    token,
    row: {
      jti,
      token_hash: sha256(token),
      family_id: ctx.familyId ?? randomUUID(),
      parent_jti: ctx.parentJti ?? null,
      app_id: app.appId,
      user_id: user.id,
      session_id: ctx.sessionId ?? null,
      scope: ctx.scope ?? null,
      claims: JSON.stringify({ email: user.email, name: user.name, roles: user.roles }),
      auth_time: ctx.authTime ?? null,
      client_bound: ctx.clientBound ?? false,
      created_at: now,
      expires_at: new Date(Math.min(now.getTime() + refreshTokenTtlMs(deps, app), ctx.familyExpiresAt?.getTime() ?? Infinity)),
      user_agent: userAgent,
      ip,
      family_started_at: signIn.at ?? now,
      family_user_agent: signIn.userAgent,
      family_ip: signIn.ip,
      family_expires_at: ctx.familyExpiresAt ?? null,
      issued_by: ctx.issuedBy ?? null,
    },
  };
}

/** Issues an access token and the first refresh token of a new family (a sign-in). */
export async function issueTokens(
  deps: TokenDeps,
  // With the roles of the user's membership of `app` (memberships.ts admitToApp decides them).
  user: AppUser,
  app: App,
  // familyId may be chosen by the caller (an authorization code records it before it is spent).
  ctx: Omit<FamilyContext, 'parentJti'> = {},
  meta: RequestMeta = {},
): Promise<IssuedTokens & { familyId: string }> {
  const { token, row } = newRefreshRow(deps, user, app, ctx, meta);
  await store.insertRefreshToken(deps.db, row);
  return {
    ...issuedTokens(await familyAccessToken(deps, user, app, row, ctx.resource ?? null, ctx.amr ?? null, ctx.userinfoClaims), token, row),
    familyId: row.family_id,
  };
}

/**
 * The access token of a family: a Keymaster sign-in's (no scope: seed 000's claims) or, for a family
 * an OAuth grant started, RFC 9068 §2.2's with the family's scope and auth_time (access-tokens.ts).
 */
function familyAccessToken(
  deps: TokenDeps,
  user: AppUser,
  app: App,
  family: { family_id: string; session_id: string | null; scope: string | null; auth_time: Date | null },
  resource: string | null,
  amr: string | null = null,
  userinfoClaims: readonly string[] = [],
): Promise<IssuedAccessToken> {
  if (family.scope === null) return issueAccessToken(deps, user, app, grantOf(family));
  const grant = { scope: family.scope, authTime: family.auth_time, resource, amr, userinfoClaims };
  return issueGrantAccessToken(deps, user, app, grant, grantOf(family));
}

/** The access token of a family rotated by the one statement, from the user's claims it returned (no read of users). */
function rotatedAccessToken(deps: TokenDeps, spent: Rotated, app: App, resource: string | null): Promise<IssuedAccessToken> {
  if (spent.scope === null) return issueAccessToken(deps, { id: spent.user_id, ...spent.claims }, app, grantOf(spent));
  const { email, name, roles, email_verified: emailVerified, updated_at: updatedAt } = spent.claims;
  const user = { id: spent.user_id, email, name, roles, emailVerified, updatedAt: new Date(updatedAt * 1000) };
  return issueGrantAccessToken(deps, user, app, { scope: spent.scope, authTime: spent.auth_time, resource }, grantOf(spent));
}

export const invalidRefreshToken = () => appError('refresh_token_invalid');

/** The access token's grant_id and sid (liveness.ts): the family and SSO session of the refresh token. */
const grantOf = (row: { family_id: string; session_id: string | null }) =>
  grantClaims({ familyId: row.family_id, sessionId: row.session_id });

interface Presenter {
  ip: string | null;
  userAgent: string | null;
}

/** The signed access token, the refresh token, and the family's facts from its row (the one written or rotated). */
function issuedTokens(
  access: IssuedAccessToken,
  refreshToken: string,
  row: { scope: string | null; user_id: string; session_id: string | null; auth_time: Date | null },
): IssuedTokens {
  return {
    accessToken: access.token,
    refreshToken,
    expiresIn: access.expiresIn,
    scope: row.scope,
    userId: row.user_id,
    sessionId: row.session_id,
    authTime: row.auth_time,
  };
}

type RotateOutcome =
  | { kind: 'rotated'; rotated: IssuedTokens }
  | { kind: 'reused'; rotated: IssuedTokens; familyId: string; late: boolean }
  | { kind: 'invalid'; reason: string }
  | { kind: 'wrong_app' }
  | { kind: 'client_bound' }
  | { kind: 'replay'; familyId: string; userId: string; revoked: number; first: Presenter & { at: Date | null } }
  | { kind: 'suspended'; userId: string };

/**
 * Rotates a refresh token presented by `appId`. `clientAuthenticated` is true only when the presenter
 * authenticated as that client (absent: it did not); a client-bound token is refused otherwise.
 * Returns a new token set (or, while the successor already issued for it was never used and within
 * the retry window, that successor again with a freshly signed access token), or throws refresh_token_invalid (refresh_token_wrong_app,
 * account_disabled). A replay's family revocation commits
 * before the error is thrown (STYLE.md §8).
 */
export async function rotateRefreshToken(
  deps: TokenDeps & Pick<Deps, 'liveness'>,
  // resource: the RFC 8707 resource of the refresh grant at /token (checked by the caller), for an OAuth family's token.
  input: { refreshToken: string; appId: string; clientAuthenticated?: boolean; resource?: string | undefined },
  meta: RequestMeta = {},
): Promise<IssuedTokens> {
  const resource = input.resource ?? null;
  // App settings may be up to APP_CACHE_TTL_MS old here; the token itself authenticates the request.
  const app = (await findCachedApp(deps, input.appId))?.app;
  if (!app) throw invalidRefreshToken();
  const hash = sha256(input.refreshToken);
  const now = deps.clock.now();
  const successorJti = randomUUID();
  const interval = reuseIntervalSeconds(deps, app);
  const window = retryWindowSeconds(deps, app);

  const token = successorToken(deps.secret, input.refreshToken);
  const successor = {
    jti: successorJti,
    tokenHash: sha256(token),
    expiresAt: new Date(now.getTime() + refreshTokenTtlMs(deps, app)),
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
    ip: meta.ip ?? null,
    reuseUntil: window > 0 ? new Date(now.getTime() + window * 1000) : null,
  };

  // Fast path (the common case: a live token of this app, user enabled): one statement spends it,
  // inserts the successor and returns the user's claims; then the access token is signed. Anything
  // else — unknown, wrong app, rotated (grace or replay), revoked, expired, disabled user — spends
  // nothing and falls through to the transaction below, which classifies it.
  // Together with the other rotations of this event-loop turn (deps.rotations: one statement).
  const clientAuthenticated = input.clientAuthenticated === true;
  const spend = { tokenHash: hash, appId: app.appId, now, clientAuthenticated };
  const spent = await deps.rotations.rotate(spend, successor);
  if (spent) {
    return issuedTokens(await rotatedAccessToken(deps, spent, app, resource), token, spent);
  }

  const outcome = await deps.db.transaction().execute(async (trx): Promise<RotateOutcome> => {
    const spent = await store.spendRefreshToken(trx, hash, app.appId, successorJti, now, clientAuthenticated);
    if (spent) {
      // Spent here only when the fast path's statement found the user disabled, the membership of
      // the app not active (or lost a race).
      const found = await findUserById({ db: trx }, spent.user_id);
      if (!found || found.disabled) {
        await store.revokeFamily(trx, spent.family_id, now, 'account_disabled');
        return { kind: 'suspended', userId: spent.user_id };
      }
      // Suspended (or pending, or removed) in this app: thrown, so the transaction rolls back and the
      // token stays as it was (a reactivated membership refreshes it again).
      const user = { ...found, roles: await refreshRoles({ db: trx }, found.id, app.appId) };
      const ctx = {
        familyId: spent.family_id,
        parentJti: spent.jti,
        sessionId: spent.session_id,
        scope: spent.scope,
        authTime: spent.auth_time,
        clientBound: spent.client_bound,
        signIn: { at: spent.family_started_at ?? spent.created_at, userAgent: spent.family_user_agent, ip: spent.family_ip },
        familyExpiresAt: spent.family_expires_at,
        issuedBy: spent.issued_by,
      };
      const { row } = newRefreshRow(deps, user, app, ctx, meta, successorJti, token);
      await store.insertRefreshToken(trx, { ...row, reuse_until: successor.reuseUntil });
      return { kind: 'rotated', rotated: issuedTokens(await familyAccessToken(deps, user, app, spent, resource), token, spent) };
    }
    const existing = await store.findRefreshTokenByHash(trx, hash);
    if (!existing) return { kind: 'invalid', reason: 'unknown' };
    if (existing.app_id !== app.appId) return { kind: 'wrong_app' };
    // Before the reuse grace and the replay check: an unauthenticated presenter changes nothing.
    if (!mayPresentRefreshToken(existing, clientAuthenticated)) return { kind: 'client_bound' };
    if (existing.rotated_at) {
      const next = existing.successor_jti ? await store.findRefreshTokenByJti(trx, existing.successor_jti) : undefined;
      if (
        !existing.revoked_at &&
        next?.reuse_until &&
        next.reuse_until.getTime() > now.getTime() &&
        isLiveRefreshToken(next, now) &&
        // Derived again from the presented parent; a successor written some other way never matches.
        safeEqual(next.token_hash, successor.tokenHash)
      ) {
        const found = await findUserById({ db: trx }, next.user_id);
        if (!found || found.disabled) {
          await store.revokeFamily(trx, next.family_id, now, 'account_disabled');
          return { kind: 'suspended', userId: next.user_id };
        }
        const user = { ...found, roles: await refreshRoles({ db: trx }, found.id, app.appId) };
        return {
          kind: 'reused',
          rotated: issuedTokens(await familyAccessToken(deps, user, app, next, resource), token, next),
          familyId: next.family_id,
          // Past the app's reuse interval: not a concurrent presenter but a retry whose answer was lost.
          late: now.getTime() - next.created_at.getTime() > interval * 1000,
        };
      }
      const revoked = await store.revokeFamily(trx, existing.family_id, now, 'replay');
      // The successor was created by whoever rotated the parent first: its ip/ua are that presenter's.
      const first = { ip: next?.ip ?? null, userAgent: next?.user_agent ?? null, at: existing.rotated_at };
      return { kind: 'replay', familyId: existing.family_id, userId: existing.user_id, revoked, first };
    }
    return { kind: 'invalid', reason: existing.revoked_at ? 'revoked' : 'expired' };
  });

  switch (outcome.kind) {
    case 'rotated':
      return outcome.rotated;
    case 'reused':
      deps.log.info(
        { event: outcome.late ? 'refresh_token.retry' : 'refresh_token.reuse_grace', familyId: outcome.familyId, appId: app.appId },
        outcome.late
          ? 'rotated refresh token presented again while its successor was never used: the same successor again'
          : 'rotated refresh token presented again within the reuse interval',
      );
      return outcome.rotated;
    case 'replay':
      forgetLiveness(deps, outcome.userId);
      deps.log.warn(
        { event: 'refresh_token.replay', familyId: outcome.familyId, appId: app.appId, revoked: outcome.revoked },
        'refresh token replay: family revoked',
      );
      await recordAuditEvent(
        deps,
        {
          event: 'refresh_token.replay',
          userId: outcome.userId,
          appId: app.appId,
          data: {
            familyId: outcome.familyId,
            revoked: outcome.revoked,
            // Both presenters: who rotated the token first, and who presented it again (also in the row's ip/user_agent).
            first_presenter: { ip: outcome.first.ip, user_agent: outcome.first.userAgent, at: outcome.first.at?.toISOString() ?? null },
            replay_presenter: { ip: meta.ip ?? null, user_agent: meta.userAgent?.slice(0, 512) ?? null },
          },
        },
        meta,
      );
      throw invalidRefreshToken();
    case 'wrong_app':
      throw appError('refresh_token_wrong_app');
    case 'client_bound':
      throw appError('refresh_token_client_bound');
    case 'suspended':
      forgetLiveness(deps, outcome.userId);
      throw appError('account_disabled');
    case 'invalid':
      throw invalidRefreshToken();
  }
}

/** The scope granted to a refresh token of `appId` (null: none recorded), or undefined for a token of another app or none at all. */
export async function refreshTokenScope(
  deps: Pick<Deps, 'db'>,
  input: { refreshToken: string; appId: string },
): Promise<string | null | undefined> {
  const row = await store.findRefreshTokenByHash(deps.db, sha256(input.refreshToken));
  return row && row.app_id === input.appId ? row.scope : undefined;
}

/**
 * Revokes the family of a refresh token (logout). Unknown or already revoked tokens are not an error
 * (RFC 7009 §2.2). When `appId` (or `userId`) is given, a token of another app (or user) is left alone.
 */
export async function revokeRefreshToken(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  input: { refreshToken: string; appId?: string; userId?: string },
  meta: RequestMeta = {},
): Promise<void> {
  const existing = await store.findRefreshTokenByHash(deps.db, sha256(input.refreshToken));
  if (!existing || (input.appId && existing.app_id !== input.appId)) return;
  // The account API's logout: a signed-in user can only end their own token families.
  if (input.userId && existing.user_id !== input.userId) return;
  const revoked = await store.revokeFamily(deps.db, existing.family_id, deps.clock.now(), 'revoked');
  if (revoked > 0) {
    forgetLiveness(deps, existing.user_id);
    await recordAuditEvent(
      deps,
      { event: 'refresh_token.revoked', userId: existing.user_id, appId: existing.app_id, data: { familyId: existing.family_id, revoked } },
      meta,
    );
  }
}

/** The stored row of a refresh token we issued, found by its hash (introspection reads it whole). */
export async function findRefreshTokenRecord(deps: Pick<Deps, 'db'>, refreshToken: string): Promise<RefreshTokenRow | undefined> {
  return store.findRefreshTokenByHash(deps.db, sha256(refreshToken));
}

/**
 * Revokes every still-live token of a family (an authorization code replayed: what it issued goes);
 * returns how many. Takes the caller's `db`, so it commits with the caller's transaction when there is one.
 */
export async function revokeTokenFamily(deps: Pick<Deps, 'db'>, familyId: string, now: Date, reason: string): Promise<number> {
  return store.revokeFamily(deps.db, familyId, now, reason);
}

/** Revokes every still-live refresh token of a user (password reset or change, account disabled); returns how many. */
export async function revokeAllUserTokens(deps: Pick<Deps, 'db'>, userId: string, now: Date, reason: string): Promise<number> {
  return store.revokeUserTokens(deps.db, userId, now, reason);
}

/** The app a refresh token was issued to, if the token is ours (the account API refreshes without an app_id). */
export async function findRefreshTokenAppId(deps: Pick<Deps, 'db'>, refreshToken: string): Promise<string | undefined> {
  return (await store.findRefreshTokenByHash(deps.db, sha256(refreshToken)))?.app_id;
}
