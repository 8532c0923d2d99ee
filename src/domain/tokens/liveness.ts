// Access-token liveness (DESIGN.md §7.14): the one check every endpoint that accepts a user access
// token makes after the signature (userinfo, the account API, introspection, /token/verify). A JWT
// says what was granted; this says whether it still stands. A token is refused when
//   - its user is gone or disabled;
//   - it was issued before the user's tokens_valid_after (password change or reset, sign out
//     everywhere, disable): whole seconds, as iat is;
//   - its grant ended: `grant_id` names the refresh-token family (or the authorization code's family)
//     it was issued under, and that family was revoked (logout, session revoked, refresh-token replay,
//     admin) or its code was replayed (RFC 9700 §4.2.4, OIDC conformance oidcc-codereuse-30seconds);
//   - its SSO session (`sid`) ended in a later second than the token's iat (sign-out, end_session). A
//     refresh-token family outlives its SSO session, so tokens it issues afterwards stay live.
//   - its app's membership is not active (issue 14: suspended, or pending): the app is the token's
//     client_id (its aud when it has none); other apps' tokens are unaffected.
//
// The facts come from deps.liveness (liveness-cache.ts): no database round trip while a user's entry
// is fresh, ≤ LIVENESS_CACHE_TTL_MS stale for ends made by another process.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { epochSeconds } from '../../lib/clock.js';
import { isUuid } from '../apps/apps.js';
import { verifyAccessToken, type AccessTokenClaims } from './access-tokens.js';
import { findLivenessRow } from './liveness-store.js';

export interface UserLiveness {
  disabled: boolean;
  /** Epoch seconds: a token with an earlier iat is refused. */
  validAfter: number | null;
  /** Ended grants (refresh-token family ids). */
  endedGrants: ReadonlySet<string>;
  /** Ended SSO sessions: id → the epoch second it ended. */
  endedSessions: ReadonlyMap<string, number>;
  /** Apps the user's membership of is not active (suspended, pending). */
  inactiveApps: ReadonlySet<string>;
}

/** The claims liveness reads; a token without grant_id or sid is checked on its user alone. */
export interface LivenessClaims {
  sub: string;
  iat: number;
  grant_id?: unknown;
  sid?: unknown;
  client_id?: unknown;
  aud?: unknown;
}

export type LivenessRefusal =
  'user_unknown' | 'user_disabled' | 'issued_before_valid_after' | 'grant_ended' | 'session_ended' | 'membership_inactive';

/**
 * How far back an end can concern a token still unexpired: the longest access-token lifetime
 * KEYMASTER_ACCESS_TOKEN_TTL allows (config.ts), in ms.
 */
export const LIVENESS_LOOKBACK_MS = 86_400 * 1000;

type LivenessDeps = Pick<Deps, 'db' | 'clock' | 'liveness'>;

/** The claims that tie an access token to what it was issued under (additive to the seed 000 claim set). */
export function grantClaims(grant: { familyId: string; sessionId: string | null }): { grant_id: string; sid?: string } {
  return { grant_id: grant.familyId, ...(grant.sessionId !== null && { sid: grant.sessionId }) };
}

/** The rule itself, on facts already read: why `claims` is no longer live, or undefined if it is. */
export function liveTokenRefusal(state: UserLiveness | undefined, claims: LivenessClaims): LivenessRefusal | undefined {
  if (!state) return 'user_unknown';
  if (state.disabled) return 'user_disabled';
  if (state.validAfter !== null && claims.iat < state.validAfter) return 'issued_before_valid_after';
  if (typeof claims.grant_id === 'string' && state.endedGrants.has(claims.grant_id)) return 'grant_ended';
  const ended = typeof claims.sid === 'string' ? state.endedSessions.get(claims.sid) : undefined;
  if (ended !== undefined && claims.iat < ended) return 'session_ended';
  const appId = typeof claims.client_id === 'string' ? claims.client_id : claims.aud;
  if (typeof appId === 'string' && state.inactiveApps.has(appId)) return 'membership_inactive';
  return undefined;
}

/** The liveness facts of a user: cached, else one read. */
export async function userLiveness(deps: LivenessDeps, userId: string): Promise<UserLiveness | undefined> {
  if (!isUuid(userId)) return undefined;
  return deps.liveness.get(userId, async () => {
    const since = new Date(deps.clock.now().getTime() - LIVENESS_LOOKBACK_MS);
    const row = await findLivenessRow(deps.db, userId, since);
    if (!row) return undefined;
    return {
      disabled: row.disabled,
      validAfter: row.tokens_valid_after ? epochSeconds(row.tokens_valid_after) : null,
      endedGrants: new Set(row.ended_families),
      endedSessions: new Map(Object.entries(row.ended_sessions).map(([id, at]) => [id, Number(at)])),
      inactiveApps: new Set(row.inactive_apps),
    };
  });
}

/** Why a verified user access token is no longer live (undefined: it is). Introspection answers inactive on any reason. */
export async function accessTokenRefusal(deps: LivenessDeps, claims: LivenessClaims): Promise<LivenessRefusal | undefined> {
  return liveTokenRefusal(await userLiveness(deps, claims.sub), claims);
}

/** Throws invalid_token unless `claims` is live; a disabled account has its own reason (the account API's 403). */
export async function assertLive(deps: LivenessDeps, claims: LivenessClaims): Promise<void> {
  const refusal = await accessTokenRefusal(deps, claims);
  if (refusal === 'user_disabled') throw appError('access_token_account_disabled', { detail: refusal });
  if (refusal) throw appError('access_token_invalid', { detail: refusal });
}

/** verifyAccessToken (signature, issuer, typ, expiry, audience) and then assertLive: what every bearer endpoint calls. */
export async function verifyLiveAccessToken(
  deps: LivenessDeps & Pick<Deps, 'config' | 'keys'>,
  token: string,
  opts: { audience?: string } = {},
): Promise<AccessTokenClaims> {
  const claims = await verifyAccessToken(deps, token, opts);
  await assertLive(deps, claims);
  return claims;
}

/** After an end of `userId`'s grant, session, password or account has committed: this process sees it at once. */
export function forgetLiveness(deps: Pick<Deps, 'liveness'>, userId: string): void {
  deps.liveness.invalidate(userId);
}
