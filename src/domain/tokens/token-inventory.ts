// Token inventory (seed 001) for admins and a user's own sessions. A "session" is a refresh-token
// family: one sign-in on one device for one app; rotations add children to it. Revocation always works
// on whole families: a single token of a family is useless without the rest (its descendants carry on
// the same sign-in), so revoking by jti ends the family that jti belongs to.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import type { RefreshTokenRow } from '../../storage/schema.js';
import { isUuid } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { queueGrantLogout, queueSessionLogouts } from '../oidc/backchannel-logout.js';
import { spendOutstandingCodes } from '../oidc/authorization.js';
import { findUserByEmailOrId, refuseEarlierAccessTokens } from '../users/users.js';
import { enqueueUserEvent } from '../webhooks/webhooks.js';
import { isLiveRefreshToken } from './live.js';
import { forgetLiveness } from './liveness.js';
import { revokeFamily, revokeUserTokens } from './refresh-token-store.js';
import * as store from './token-inventory-store.js';

export interface TokenInfo {
  jti: string;
  familyId: string;
  parentJti: string | null;
  /** The audience: the app the token is bound to. */
  appId: string;
  userId: string;
  sessionId: string | null;
  scope: string | null;
  claims: Record<string, unknown>;
  /** First 12 hex chars of the SHA-256 of the token: enough to match a token in hand, useless to forge one. */
  hashPrefix: string;
  lifetimeSeconds: number;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  rotatedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
  userAgent: string | null;
  ip: string | null;
  state: 'active' | 'rotated' | 'revoked' | 'expired';
  /** A refresh key (seed 001's "+"): the admin who created it; null for a sign-in's token. */
  issuedBy: string | null;
  /** The family's sign-in: when, and from which device (a rotation's own device may be an app backend). */
  signIn: { at: Date; userAgent: string | null; ip: string | null };
}

export function toTokenInfo(r: RefreshTokenRow, now: Date): TokenInfo {
  const state = isLiveRefreshToken(r, now) ? 'active' : r.revoked_at ? 'revoked' : r.rotated_at ? 'rotated' : 'expired';
  return {
    jti: r.jti,
    familyId: r.family_id,
    parentJti: r.parent_jti,
    appId: r.app_id,
    userId: r.user_id,
    sessionId: r.session_id,
    scope: r.scope,
    claims: r.claims,
    hashPrefix: r.token_hash.slice(0, 12),
    lifetimeSeconds: Math.round((r.expires_at.getTime() - r.created_at.getTime()) / 1000),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    rotatedAt: r.rotated_at,
    revokedAt: r.revoked_at,
    revokedReason: r.revoked_reason,
    userAgent: r.user_agent,
    ip: r.ip,
    state,
    issuedBy: r.issued_by,
    signIn: { at: r.family_started_at ?? r.created_at, userAgent: r.family_user_agent, ip: r.family_ip },
  };
}

async function resolveUserId(deps: Pick<Deps, 'db'>, ref: string): Promise<string> {
  const user = ref.includes('@') || isUuid(ref) ? await findUserByEmailOrId(deps, ref) : undefined;
  if (!user) throw appError('user_ref_not_found', { ref });
  return user.id;
}

/** Newest first. `user` is an email or a user id; `active` keeps only tokens that could still be used. */
export async function listTokens(
  deps: Pick<Deps, 'db' | 'clock'>,
  f: {
    user?: string | undefined;
    appId?: string | undefined;
    familyId?: string | undefined;
    active?: boolean | undefined;
    limit?: number | undefined;
  } = {},
): Promise<TokenInfo[]> {
  const userId = f.user ? await resolveUserId(deps, f.user) : undefined;
  if (f.appId && !isUuid(f.appId)) throw appError('app_filter_invalid');
  if (f.familyId && !isUuid(f.familyId)) throw appError('family_filter_invalid');
  const now = deps.clock.now();
  const rows = await store.listRefreshTokens(deps.db, {
    userId,
    appId: f.appId,
    familyId: f.familyId,
    liveAt: f.active ? now : undefined,
    limit: Math.min(Math.max(f.limit ?? 100, 1), 10_000),
  });
  return rows.map((r) => toTokenInfo(r, now));
}

export type RevokeTarget = { jti: string } | { familyId: string } | { user: string };

/** Admin revocation (CLI). Returns how many tokens (and, for a user, SSO sessions) were ended. */
export async function revokeTokens(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  target: RevokeTarget,
  meta: RequestMeta = {},
): Promise<{ revoked: number; sessions: number }> {
  const now = deps.clock.now();
  if ('user' in target) {
    const userId = await resolveUserId(deps, target.user);
    const r = await signOutEverywhere(deps, userId, meta);
    return { revoked: r.revoked, sessions: r.sessions };
  }
  let familyId: string;
  let row: RefreshTokenRow | undefined;
  if ('jti' in target) {
    row = isUuid(target.jti) ? await store.findRefreshTokenByJti(deps.db, target.jti) : undefined;
    if (!row) throw appError('refresh_token_not_found', { jti: target.jti });
    familyId = row.family_id;
  } else {
    if (!isUuid(target.familyId)) throw appError('token_family_not_found', { familyId: target.familyId });
    [row] = await store.listRefreshTokens(deps.db, { familyId: target.familyId, limit: 1 });
    if (!row) throw appError('token_family_not_found', { familyId: target.familyId });
    familyId = target.familyId;
  }
  const grant = row;
  // The revocation and its back-channel logout commit together.
  const revoked = await deps.db.transaction().execute(async (trx) => {
    const n = await revokeFamily(trx, familyId, now, 'admin');
    if (n > 0) await queueGrantLogout({ db: trx }, { userId: grant.user_id, appId: grant.app_id, sessionId: grant.session_id, now });
    return n;
  });
  if (revoked > 0) {
    forgetLiveness(deps, row.user_id);
    await recordAuditEvent(
      deps,
      { event: 'refresh_token.revoked', userId: row.user_id, appId: row.app_id, data: { familyId, revoked, reason: 'admin' } },
      meta,
    );
  }
  return { revoked, sessions: 0 };
}

/** Times are ISO 8601 strings in UTC (formatted by Postgres: a long list is mostly dates). */
export interface UserSession {
  id: string;
  appId: string;
  appName: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
}

/** How many sessions a page holds unless asked (and at most): enough for any real person's devices. */
export const SESSION_PAGE = { default: 50, max: 200 } as const;

/** A page of sessions; `next` (opaque) asks for the one after it, undefined on the last page. */
export interface SessionPage {
  sessions: UserSession[];
  next: string | undefined;
}

const encodePosition = (jti: string) => Buffer.from(jti, 'utf8').toString('base64url');

/**
 * The user's live sign-ins (refresh-token families), newest activity first, a page at a time: the
 * cost of a request follows the page, not the user's history or number of devices. `cursor` is a
 * previous page's `next`; one that is not ours is a 400.
 */
export async function listUserSessions(
  deps: Pick<Deps, 'db' | 'clock'>,
  userId: string,
  page: { limit?: number | undefined; cursor?: string | undefined } = {},
): Promise<SessionPage> {
  const limit = Math.min(page.limit ?? SESSION_PAGE.default, SESSION_PAGE.max);
  let after: string | undefined;
  if (page.cursor !== undefined) {
    after = Buffer.from(page.cursor, 'base64url').toString('utf8');
    if (!isUuid(after)) throw appError('cursor_invalid');
  }
  // One row more than the page says whether there is a next one.
  const rows = await store.listLiveFamilies(deps.db, userId, deps.clock.now(), { after, limit: limit + 1 });
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return { sessions: shown.map(toUserSession), next: more ? encodePosition(shown[shown.length - 1]!.position) : undefined };
}

function toUserSession(r: store.FamilySummary): UserSession {
  return {
    id: r.family_id,
    appId: r.app_id,
    appName: r.app_name,
    createdAt: r.started_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    userAgent: r.user_agent,
    ip: r.ip,
  };
}

/** Ends one of the user's own sessions; someone else's (or an unknown or ended one) is 404, alike. */
export async function revokeUserSession(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  userId: string,
  familyId: string,
  meta: RequestMeta = {},
): Promise<void> {
  const now = deps.clock.now();
  const live = isUuid(familyId) ? await store.listRefreshTokens(deps.db, { userId, familyId, liveAt: now, limit: 1 }) : [];
  // The revocation and its back-channel logout commit together.
  const revoked = !live.length
    ? 0
    : await deps.db.transaction().execute(async (trx) => {
        const n = await store.revokeUserFamily(trx, userId, familyId, now, 'user_signed_out');
        if (n > 0) await queueGrantLogout({ db: trx }, { userId, appId: live[0]!.app_id, sessionId: live[0]!.session_id, now });
        return n;
      });
  if (revoked === 0) throw appError('session_not_found');
  forgetLiveness(deps, userId);
  await recordAuditEvent(
    deps,
    { event: 'refresh_token.revoked', userId, appId: live[0]!.app_id, data: { familyId, revoked, reason: 'user_signed_out' } },
    meta,
  );
}

/**
 * "Sign out everywhere": every refresh token and SSO session of the user ends now, and so does every
 * access token issued before this second (users.tokens_valid_after, liveness.ts). The user's apps get
 * a user.logout webhook.
 */
export async function signOutEverywhere(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  userId: string,
  meta: RequestMeta = {},
): Promise<{ revoked: number; sessions: number }> {
  const now = deps.clock.now();
  const { revoked, sessionIds } = await deps.db.transaction().execute(async (trx) => {
    await refuseEarlierAccessTokens({ db: trx }, userId, now);
    const ended = {
      revoked: await revokeUserTokens(trx, userId, now, 'signed_out_everywhere'),
      sessionIds: await store.revokeUserSessions(trx, userId, now),
    };
    await queueSessionLogouts({ db: trx }, { userId, sessionIds: ended.sessionIds, now });
    return ended;
  });
  forgetLiveness(deps, userId);
  await recordAuditEvent(deps, { event: 'user.signed_out_everywhere', userId, data: { revoked, sessions: sessionIds.length } }, meta);
  if (revoked > 0 || sessionIds.length > 0) {
    const user = await findUserByEmailOrId(deps, userId);
    if (user) await enqueueUserEvent(deps, { event: 'user.logout', user });
  }
  return { revoked, sessions: sessionIds.length };
}

/**
 * Ends every live sign-in (refresh-token family) of one user at one app, as "sign out" of each would
 * (revokeUserFamily + its back-channel logout): the user revoked that app's access (/account).
 * Takes the caller's `db`, so it commits with the caller's transaction; the caller then calls
 * forgetLiveness and records the event. Returns the families ended.
 */
export async function endAppSignIns(
  deps: Pick<Deps, 'db'>,
  ended: { userId: string; appId: string; now: Date; reason: string },
): Promise<string[]> {
  const { userId, appId, now, reason } = ended;
  // A code issued before and not yet exchanged would start a new family: spent with the rest.
  await spendOutstandingCodes(deps.db, userId, appId, now);
  const live = await store.refreshTokensQuery(deps.db, { userId, appId, liveAt: now, limit: 10_000 }).execute();
  const families = new Map(live.map((t) => [t.family_id, t.session_id]));
  for (const [familyId, sessionId] of families) {
    if ((await store.revokeUserFamily(deps.db, userId, familyId, now, reason)) > 0)
      await queueGrantLogout(deps, { userId, appId, sessionId, now });
  }
  return [...families.keys()];
}
