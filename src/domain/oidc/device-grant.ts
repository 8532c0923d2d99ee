// The OAuth 2.0 Device Authorization Grant (RFC 8628): the device's request (§3.1-3.2), the user's
// code entry and decision on /device (§3.3, §5.4: the user always confirms, even with the code in the
// link), and the device's polls at /token (§3.4-3.5).
//
// A request's device_code is a 32-byte random secret stored as SHA-256; its user code is 8 letters of
// the §6.1 base-20 alphabet (≈34.6 bits), stored as an HMAC of its normalised form under
// KEYMASTER_SECRET (a leaked table does not hand out live codes by brute force). The user code is
// guessable in principle, so its entry is throttled per source: wrong codes are counted, and past the
// limit every entry from that source is refused for the window, a right one too (no oracle). The
// throttle guards code entry only: sign-in is never refused by it (DESIGN.md §7 rule 12).
import { randomInt, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appError, type AppError } from '../../errors.js';
import { MINUTE } from '../../lib/clock.js';
import { decrypt, deriveKey, encrypt, hmacSha256, randomToken, safeEqual, sha256 } from '../../lib/crypto.js';
import { DEVICE_CODE_GRANT, findApp, type App } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { admitToApp } from '../memberships/memberships.js';
import { countFailure, peekRateLimit, RULES } from '../rate-limits/rate-limits.js';
import { resumeSession } from '../sessions/sessions.js';
import type { User } from '../users/users.js';
import { grantableScopes } from './authorization.js';
import * as store from './device-code-store.js';
import { formatScope, parseScope } from './scopes.js';
import { checkResource, issueUserGrant, type GrantDeps, type OAuthTokens } from './token-grants.js';

/** §3.2 expires_in and interval: ten minutes to finish, a poll every five seconds at most. */
export const DEVICE_CODE_TTL_MS = 10 * MINUTE;
export const DEVICE_POLL_INTERVAL = 5;
/** §3.5: each slow_down adds five seconds to the interval the device must keep. */
const SLOW_DOWN_STEP = 5;
/** §6.1: base-20, no vowels (no words), no look-alikes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;
/** The sealed reference the /device pages carry between code entry, sign-in and the decision. */
const REQUEST_TTL_MS = DEVICE_CODE_TTL_MS;

/** What /device_authorization answers (§3.2); the route spells it as JSON. */
export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  expiresIn: number;
  interval: number;
}

/** §6.1: the code as typed, normalised (case, dashes, spaces); undefined if it cannot be a user code. */
export function normaliseUserCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]+/g, '');
  if (code.length !== USER_CODE_LENGTH) return undefined;
  return [...code].every((c) => USER_CODE_ALPHABET.includes(c)) ? code : undefined;
}

/** XXXX-XXXX: how the code is shown (§6.1 "dashes improve readability"). */
export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

const userCodeHash = (deps: Pick<Deps, 'secret'>, normalised: string) => hmacSha256(deriveKey(deps.secret, 'device-user-code'), normalised);

function drawUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/**
 * §3.1-3.2: a device authorization request of an authenticated client. The app must allow the
 * device_code grant; the scope is checked as at /authorize; a `resource` must be registered (RFC 8707).
 */
export async function startDeviceAuthorization(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'secret'>,
  app: App,
  input: { scope?: string | undefined; resource?: string | undefined },
): Promise<DeviceAuthorization> {
  if (!app.grantTypes.includes(DEVICE_CODE_GRANT)) throw appError('grant_not_allowed', { grant: 'device_code' });
  const scopes = grantableScopes(app, input.scope);
  if (scopes.length === 0) throw appError('no_scope_allowed');
  checkResource(app, input.resource);
  const deviceCode = randomToken(32);
  const now = deps.clock.now();
  // 20^8 codes: a collision with a stored one is rare; the unique index decides it, and we draw again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const userCode = drawUserCode();
    const inserted = await store.insertDeviceCode(deps.db, {
      device_code_hash: sha256(deviceCode),
      user_code_hash: userCodeHash(deps, userCode),
      app_id: app.appId,
      scope: formatScope(scopes),
      resource: input.resource ?? null,
      interval_seconds: DEVICE_POLL_INTERVAL,
      family_id: randomUUID(),
      created_at: now,
      expires_at: new Date(now.getTime() + DEVICE_CODE_TTL_MS),
    });
    if (!inserted) continue;
    const verificationUri = `${deps.config.issuer}/device`;
    const shown = formatUserCode(userCode);
    return {
      deviceCode,
      userCode: shown,
      verificationUri,
      verificationUriComplete: `${verificationUri}?${new URLSearchParams({ user_code: shown })}`,
      expiresIn: DEVICE_CODE_TTL_MS / 1000,
      interval: DEVICE_POLL_INTERVAL,
    };
  }
  throw appError('server_error', { detail: 'no free user code after 5 draws' });
}

// ---- the /device pages (§3.3) ----

// The sealed reference names the request (its user-code hash), the code as the user entered it (the
// confirm page shows it, to be checked against the device's), and the SHA-256 of a random value set
// in an HttpOnly cookie when the code was entered: the reference is good only in the browser that
// typed the code, so a confirm link sent to someone else goes back to code entry.
const SealedRequest = z.object({ u: z.string(), c: z.string(), b: z.string(), exp: z.number() });
type OpenedRequest = Omit<z.infer<typeof SealedRequest>, 'exp'>;

function sealRequest(deps: Pick<Deps, 'secret' | 'clock'>, opened: OpenedRequest): string {
  const exp = Math.floor((deps.clock.now().getTime() + REQUEST_TTL_MS) / 1000);
  return encrypt(deriveKey(deps.secret, 'device-request'), JSON.stringify({ ...opened, exp }), 'device');
}

function openRequest(deps: Pick<Deps, 'secret' | 'clock'>, sealed: string, browserBinding: string | undefined): OpenedRequest {
  let r: z.infer<typeof SealedRequest>;
  try {
    r = SealedRequest.parse(JSON.parse(decrypt(deriveKey(deps.secret, 'device-request'), sealed, 'device')));
  } catch {
    // Tampered with, or not ours.
    throw appError('device_request_invalid');
  }
  if (r.exp * 1000 < deps.clock.now().getTime()) throw appError('device_request_invalid');
  // Hash-then-compare in constant time (safeEqual); no cookie at all is a foreign browser too.
  if (browserBinding === undefined || !safeEqual(sha256(browserBinding), r.b)) throw appError('device_request_foreign');
  return { u: r.u, c: r.c, b: r.b };
}

/** A pending request as the confirm page shows it: the app, the scopes, and the sealed reference its form carries. */
export interface DeviceRequest {
  app: App;
  scopes: string[];
  /** The user code as shown on the device (XXXX-XXXX): the confirm page asks the user to compare. */
  userCode: string;
  /** The sealed reference to the request, for the sign-in and confirm forms of this browser only. */
  request: string;
  /** The user of the browser's live SSO session; undefined: the page signs the user in first. */
  user: User | undefined;
  /** Set by enterUserCode only: the value of the browser-binding cookie the route sets. */
  browserBinding?: string;
}

type PageDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'secret' | 'rateCounters'>;

async function pendingRequest(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'secret'>,
  opened: OpenedRequest,
  sessionCookie: string | undefined,
): Promise<DeviceRequest | undefined> {
  const row = await store.findPendingByUserCode(deps.db, opened.u, deps.clock.now());
  if (!row) return undefined;
  const app = await findApp(deps, row.app_id);
  if (!app) return undefined;
  const live = await resumeSession(deps, sessionCookie);
  return {
    app,
    scopes: parseScope(row.scope),
    userCode: formatUserCode(opened.c),
    request: sealRequest(deps, opened),
    user: live?.user,
  };
}

/**
 * The user typed (or the link carried) a user code. Past the per-source limit on wrong codes, every
 * entry is refused with 429 (rate_limited, retryAfter) until the window ends; a wrong code is counted
 * and refused (user_code_invalid), or 429 if it was the one past the limit. A right one binds the
 * request to this browser (browserBinding, for its cookie).
 */
export async function enterUserCode(
  deps: PageDeps,
  input: { userCode: string; source: string; sessionCookie: string | undefined },
): Promise<DeviceRequest> {
  const throttle = await peekRateLimit(deps, RULES.deviceUserCodeFailuresPerIp, input.source);
  if (throttle.limited) throw appError('rate_limited', { retryAfter: throttle.retryAfter });
  const normalised = normaliseUserCode(input.userCode);
  const browserBinding = randomToken(32);
  const found =
    normalised === undefined
      ? undefined
      : await pendingRequest(deps, { u: userCodeHash(deps, normalised), c: normalised, b: sha256(browserBinding) }, input.sessionCookie);
  if (found) return { ...found, browserBinding };
  throw (await countFailure(deps, RULES.deviceUserCodeFailuresPerIp, input.source)) ?? appError('user_code_invalid');
}

/** The request a sealed reference names, if it is still pending and this browser entered its code. */
export async function resumeDeviceRequest(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'secret'>,
  input: { request: string; browserBinding: string | undefined; sessionCookie: string | undefined },
): Promise<DeviceRequest> {
  const found = await pendingRequest(deps, openRequest(deps, input.request, input.browserBinding), input.sessionCookie);
  if (!found) throw appError('device_request_invalid');
  return found;
}

export type DeviceDecision = { kind: 'sign_in' } | { kind: 'decided'; approved: boolean; app: App };

/**
 * §3.3: the signed-in user approves or denies. Without a live SSO session: sign_in (the page sends
 * the user through sign-in first). The decision is one conditional UPDATE of a pending request:
 * a second decision, or one after expiry, is device_request_invalid. Audited either way. An approval
 * is a sign-in to the app: the app's rule (admitToApp) decides first, so a suspended member or a
 * non-member of an invite-only app is refused (its refusal is thrown) and the request stays pending.
 */
export async function decideDeviceRequest(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'secret'>,
  input: { request: string; approve: boolean; browserBinding: string | undefined; sessionCookie: string | undefined },
  meta: RequestMeta = {},
): Promise<DeviceDecision> {
  const hash = openRequest(deps, input.request, input.browserBinding).u;
  const live = await resumeSession(deps, input.sessionCookie);
  if (!live) return { kind: 'sign_in' };
  const now = deps.clock.now();
  if (input.approve) {
    const pending = await store.findPendingByUserCode(deps.db, hash, now);
    if (!pending) throw appError('device_request_invalid');
    await admitToApp(deps, { userId: live.user.id, appId: pending.app_id, record: true }, meta);
  }
  const row = await deps.db.transaction().execute(async (trx) => {
    const decided = await store.decideDeviceCode(trx, hash, now, {
      status: input.approve ? 'approved' : 'denied',
      userId: live.user.id,
      sessionId: live.session.id,
      authTime: live.session.auth_time,
      amr: live.session.amr,
    });
    if (decided) {
      const event = input.approve ? 'device_authorization.approved' : 'device_authorization.denied';
      await recordAuditEvent(
        { ...deps, db: trx },
        { event, userId: live.user.id, appId: decided.app_id, data: { scope: decided.scope } },
        meta,
      );
    }
    return decided;
  });
  const app = row && (await findApp(deps, row.app_id));
  if (!app) throw appError('device_request_invalid');
  return { kind: 'decided', approved: input.approve, app };
}

// ---- the device's token request (§3.4-3.5) ----

/**
 * §3.4-3.5: an approved request is exchanged once (a conditional UPDATE decides races: the second
 * exchange is invalid_grant) for the tokens an authorization code gives (issueUserGrant). Otherwise
 * the poll is answered: authorization_pending, slow_down (sooner than the interval: the interval
 * grows by 5 s and is kept), access_denied, expired_token; another client's device_code is
 * invalid_grant, as is an unknown or spent one.
 */
export async function exchangeDeviceCode(
  deps: GrantDeps,
  app: App,
  input: { deviceCode: string; resource?: string | undefined },
  meta: RequestMeta = {},
): Promise<OAuthTokens> {
  if (!app.grantTypes.includes(DEVICE_CODE_GRANT)) throw appError('grant_not_allowed', { grant: 'device_code' });
  // Before the code is spent, so a refusal leaves it usable.
  checkResource(app, input.resource);
  const hash = sha256(input.deviceCode);
  const now = deps.clock.now();
  const row = await store.redeemDeviceCode(deps.db, hash, app.appId, now);
  if (!row) throw await pollRefusal(deps, hash, app.appId, now);
  const grant = {
    userId: row.user_id!,
    familyId: row.family_id,
    sessionId: row.session_id,
    authTime: row.auth_time!,
    scope: row.scope,
    resource: input.resource ?? row.resource,
    amr: row.amr,
    requestedClaims: null,
    nonce: null,
  };
  const { tokens, refreshToken } = await issueUserGrant(deps, app, grant, meta);
  return refreshToken ? { ...tokens, refreshToken } : tokens;
}

/** Why a device_code could not be exchanged now; a pending one records the poll (and its interval) under a row lock. */
async function pollRefusal(deps: Pick<Deps, 'db'>, hash: string, appId: string, now: Date): Promise<AppError> {
  return deps.db.transaction().execute(async (trx) => {
    const row = await store.lockDeviceCode(trx, hash, appId);
    if (!row || row.status === 'redeemed') return appError('device_code_invalid');
    if (row.expires_at.getTime() <= now.getTime()) return appError('device_code_expired');
    if (row.status === 'denied') return appError('device_access_denied');
    // Approved after our exchange attempt looked: the next poll gets the tokens.
    if (row.status === 'approved') return appError('device_authorization_pending');
    const tooSoon = row.last_polled_at !== null && now.getTime() - row.last_polled_at.getTime() < row.interval_seconds * 1000;
    await store.recordPoll(trx, hash, now, row.interval_seconds + (tooSoon ? SLOW_DOWN_STEP : 0));
    return appError(tooSoon ? 'device_slow_down' : 'device_authorization_pending');
  });
}
