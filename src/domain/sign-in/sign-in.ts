// Signing a user in for an app: where every sign-in journey ends (password, upstream provider, a live
// SSO session; a passkey later). Each journey opens the pending request once, authenticates the user
// its own way, then finishSignIn opens the SSO session and issues the code or the token set in ONE
// transaction (a session without its tokens, or tokens without their session, is never left behind).
// The outcome is a tagged value; the HTTP layer sets the cookie and answers it. A password sign-in of
// an account with TOTP on (issue 17) ends with `second_factor_required` instead: no session, no
// tokens, only a sealed totp_session naming a one-time challenge row, good for 5 minutes and 5 codes,
// bound to the user, the app and the pending request; signInWithSecondFactor (hosted pages) and
// loginWithSecondFactor (the account API) finish it with amr ["pwd","otp"].
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import type { Locale } from '../../i18n/locales.js';
import { AppError, appError } from '../../errors.js';
import { assertKeymasterFlowApp, type App } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { admitToApp } from '../memberships/memberships.js';
import { codeOrConsent, openPending, type PendingAuthorization } from '../oidc/authorization.js';
import type { AuthMethod } from '../oidc/auth-context.js';
import { resumeSession, startSession } from '../sessions/sessions.js';
import { issueTokens, type IssuedTokens } from '../tokens/refresh-tokens.js';
import { completeUpstreamLogin, type UpstreamFlow } from '../upstream/upstream-login.js';
import { readKnownDevices, rememberKnownDevice } from '../users/known-devices.js';
import { MINUTE } from '../../lib/clock.js';
import { decrypt, deriveKey, encrypt, sha256 } from '../../lib/crypto.js';
import { checkRateLimit, hitRateLimit, RULES } from '../rate-limits/rate-limits.js';
import { challenges, isTotpEnabled, spendSecondFactor } from '../totp/totp.js';
import {
  assertNotLocked,
  authenticatePassword,
  findUserRecord,
  recordWrongSecondFactor,
  rememberUserLocale,
  toUser,
  type User,
} from '../users/users.js';

type SignInDeps = Pick<
  Deps,
  'db' | 'clock' | 'config' | 'keys' | 'log' | 'secret' | 'upstream' | 'apps' | 'metrics' | 'rateCounters' | 'rotations'
>;

/** Where the app asked to be answered: its callback (and state), or a sealed /authorize request. */
export interface SignInRequest {
  redirectUri: string;
  state?: string | undefined;
  /** A sealed OIDC authorization request (/authorize): the sign-in then ends with a code, not tokens. */
  authz?: string | undefined;
  /** The language of the page the user signs in on: remembered for their emails (issue 16). */
  locale?: Locale | undefined;
}

/** What a sign-in sets in the browser besides the answer: the SSO session, and the known-device token. */
interface SignInCookies {
  sessionCookie: string | undefined;
  /** known-devices.ts: this browser has now signed in to this account (set by password and upstream sign-ins). */
  deviceCookie?: string | undefined;
}

export type SignInOutcome =
  | SignInAnswer
  /** The password was right and the account has TOTP on: the code page, carrying `totpSession`. */
  | { kind: 'second_factor_required'; totpSession: string };

/** A finished sign-in: what the browser is answered with. */
export type SignInAnswer =
  /** Back to the app's callback with the tokens (the Keymaster flow). */
  | ({ kind: 'tokens'; tokens: IssuedTokens; redirectUri: string; state: string | undefined } & SignInCookies)
  /** Back to the client with an authorization code (OIDC): `url` is the whole redirect. */
  | ({ kind: 'code_redirect'; url: string; sessionCookie: string } & SignInCookies)
  /** Signed in, but the third-party app needs the user's consent first (consent.ts): the consent page. */
  | ({ kind: 'consent'; appId: string; redirectUri: string; authz: string; sessionCookie: string } & SignInCookies);

/** "Password login not enabled": the one place that decides whether an app takes passwords. */
export function assertPasswordSignIn(app: App): void {
  if (!app.providers.includes('password')) throw appError('password_login_disabled');
}

/** The refusals of a broken pending request (sealed /authorize request): never answered with tokens. */
const REQUEST_REFUSALS: ReadonlySet<string> = new Set(['sign_in_request_invalid', 'sign_in_request_expired', 'sign_in_request_mismatch']);
export const isSignInRequestRefusal = (err: unknown): err is AppError => err instanceof AppError && REQUEST_REFUSALS.has(err.reason);
export const isPushedRequestRequired = (err: unknown): err is AppError =>
  err instanceof AppError && err.reason === 'pushed_request_required';

/**
 * RFC 9126 §6 on Keymaster's own sign-in pages: an app that requires pushed requests signs users in
 * only for a sealed /authorize request (`authz`), which /authorize makes only from a pushed one. Without
 * it (GET/POST /login, the SSO fast path, /login/google) the sign-in is refused.
 */
export function assertPushedIfRequired(app: App, authz: string | undefined): void {
  if (app.requirePushedAuthorizationRequests && authz === undefined) throw appError('pushed_request_required');
}

/**
 * Checks the pending request a sign-in page is about to carry (GET /login after a detour through
 * the account pages): a stale or foreign one is refused before the user types a password.
 */
export function assertSignInRequest(deps: Pick<Deps, 'secret' | 'clock'>, app: App, request: SignInRequest): void {
  openRequest(deps, app, request);
}

/**
 * The pending authorization request, opened once per sign-in; it must be this app's, for this callback.
 * None means Keymaster's own flow (tokens with no consent page): refused for a third-party app.
 */
export function openRequest(deps: Pick<Deps, 'secret' | 'clock'>, app: App, request: SignInRequest): PendingAuthorization | undefined {
  assertPushedIfRequired(app, request.authz);
  if (request.authz === undefined) {
    assertKeymasterFlowApp(app);
    return undefined;
  }
  const pending = openPending(deps, request.authz);
  if (pending.clientId !== app.appId || pending.redirectUri !== request.redirectUri) throw appError('sign_in_request_mismatch');
  return pending;
}

/**
 * The hosted sign-in form. Refusals of the person (isSignInRefusal: no credentials typed, wrong
 * password, locked, …) are thrown for the form to show; a broken request is thrown before any check.
 */
export async function signInWithPassword(
  deps: SignInDeps,
  app: App,
  request: SignInRequest,
  credentials: { email?: string | undefined; password?: string | undefined },
  meta: RequestMeta = {},
  /** The browser's known-device cookie, if it sent one. */
  deviceCookie?: string,
): Promise<SignInOutcome> {
  assertPasswordSignIn(app);
  const pending = openRequest(deps, app, request);
  if (!credentials.email || !credentials.password) throw appError('credentials_missing');
  const knownDevices = readKnownDevices(deps.secret, deviceCookie);
  const user = await authenticatePassword(
    deps,
    { email: credentials.email, password: credentials.password, appId: app.appId, knownDevices },
    meta,
  );
  await rememberUserLocale(deps, user, request.locale);
  const totpSession = await openSecondFactor(deps, user, app, { flow: 'page', ...request });
  if (totpSession) return { kind: 'second_factor_required', totpSession };
  return withDevice(deps, await finishSignIn(deps, app, user, request, pending, meta, ['pwd']), user, deviceCookie);
}

/**
 * The code page of the hosted sign-in: the TOTP (or a recovery code) for the pending sign-in
 * `totpSession` names; then the SSO session and the app's answer, as after a password alone.
 */
export async function signInWithSecondFactor(
  deps: SignInDeps,
  app: App,
  request: SignInRequest,
  totpSession: string,
  code: string,
  meta: RequestMeta = {},
  deviceCookie?: string,
): Promise<SignInAnswer> {
  const pending = openRequest(deps, app, request);
  const user = await passSecondFactor(deps, totpSession, code, { flow: 'page', appId: app.appId, ...request }, meta);
  return withDevice(deps, await finishSignIn(deps, app, user, request, pending, meta, ['pwd', 'otp']), user, deviceCookie);
}

/** The account API's login (POST /api/v1/auth/login): the TOTP challenge, or nothing when the account has no TOTP. */
export async function openApiSecondFactor(deps: Pick<Deps, 'db' | 'clock' | 'secret'>, user: User, app: App): Promise<string | undefined> {
  return openSecondFactor(deps, user, app, { flow: 'api', redirectUri: '' });
}

/** POST /api/v1/auth/totp/verify: the code for an API login's totp_session; the user and the app it was for. */
export async function passApiSecondFactor(
  deps: SecondFactorDeps,
  totpSession: string,
  code: string,
  meta: RequestMeta = {},
): Promise<{ user: User; appId: string }> {
  const claims = openTotpSession(deps, totpSession);
  const user = await passSecondFactor(deps, totpSession, code, { flow: 'api', appId: claims.a, redirectUri: '' }, meta);
  return { user, appId: claims.a };
}

type SecondFactorDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'log' | 'secret' | 'rateCounters'>;

/** A pending second factor lives this long (the code page is filled in within it). */
export const TOTP_SESSION_TTL_MS = 5 * MINUTE;
/** Codes one pending sign-in may try; the per-user limit (RULES.totpFailuresPerUser) bounds them all. */
export const TOTP_SESSION_ATTEMPTS = 5;

/** The sealed totp_session: the challenge row, and what it is bound to (user, app, flow, the pending request). */
const TotpSessionClaims = z.object({
  c: z.uuid(),
  u: z.uuid(),
  a: z.string(),
  f: z.enum(['api', 'page', 'session']),
  /** The pending request: the callback, state and sealed /authorize request (hashed) it must come back with. */
  r: z.string(),
  s: z.string().optional(),
  z: z.string().optional(),
  exp: z.number(),
});
type TotpSessionClaims = z.infer<typeof TotpSessionClaims>;
type SecondFactorBinding = {
  flow: 'api' | 'page' | 'session';
  appId?: string;
  redirectUri: string;
  state?: string | undefined;
  authz?: string | undefined;
};

const totpSessionKey = (deps: Pick<Deps, 'secret'>) => deriveKey(deps.secret, 'totp-session');

/** The challenge for a password sign-in of an account with TOTP on (undefined: no TOTP, sign in now). */
async function openSecondFactor(
  deps: Pick<Deps, 'db' | 'clock' | 'secret'>,
  user: User,
  app: App | undefined,
  bind: SecondFactorBinding,
): Promise<string | undefined> {
  if (!(await isTotpEnabled(deps, user.id))) return undefined;
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + TOTP_SESSION_TTL_MS);
  const id = await challenges.insert(deps, {
    user_id: user.id,
    app_id: app?.appId ?? null,
    created_at: now,
    expires_at: expiresAt,
  });
  const claims: TotpSessionClaims = {
    c: id,
    u: user.id,
    a: app?.appId ?? '',
    f: bind.flow,
    r: bind.redirectUri,
    ...(bind.state !== undefined && { s: bind.state }),
    ...(bind.authz !== undefined && { z: sha256(bind.authz) }),
    exp: Math.floor(expiresAt.getTime() / 1000),
  };
  return encrypt(totpSessionKey(deps), JSON.stringify(claims), 'totp-session');
}

function openTotpSession(deps: Pick<Deps, 'secret' | 'clock'>, sealed: string): TotpSessionClaims {
  let claims: TotpSessionClaims;
  try {
    claims = TotpSessionClaims.parse(JSON.parse(decrypt(totpSessionKey(deps), sealed, 'totp-session')));
  } catch {
    throw appError('totp_session_invalid', { detail: 'not a totp_session of this server' });
  }
  if (claims.exp * 1000 <= deps.clock.now().getTime()) throw appError('totp_session_invalid', { detail: 'expired' });
  return claims;
}

/**
 * Checks the code for a pending sign-in and spends it, the step (or recovery code) and the challenge
 * each by a conditional UPDATE. A wrong code counts against the challenge (5), the user (10 per
 * 15 min) and, as a wrong password does, toward the account's lockout.
 */
async function passSecondFactor(
  deps: SecondFactorDeps,
  sealed: string,
  code: string,
  bind: SecondFactorBinding,
  meta: RequestMeta,
): Promise<User> {
  const claims = openTotpSession(deps, sealed);
  const bound =
    claims.f === bind.flow &&
    claims.a === bind.appId &&
    claims.r === bind.redirectUri &&
    claims.s === bind.state &&
    claims.z === (bind.authz === undefined ? undefined : sha256(bind.authz));
  if (!bound) throw appError('totp_session_invalid', { detail: 'bound to another app or request' });
  const now = deps.clock.now();
  await checkRateLimit(deps, RULES.totpFailuresPerUser, claims.u).catch((err: unknown) => {
    if (err instanceof AppError && err.reason === 'rate_limited') throw appError('totp_attempts_exceeded', { retryAfter: err.retryAfter });
    throw err;
  });
  const row = await findUserRecord(deps, claims.u);
  if (!row) throw appError('totp_session_invalid', { detail: 'user gone' });
  assertNotLocked(row, now);
  if (row.disabled_at) throw appError('account_disabled');
  const attempt = await challenges.countAttempt(deps, claims.c, claims.u, now, TOTP_SESSION_ATTEMPTS);
  if (!attempt) {
    const c = await challenges.find(deps, claims.c);
    if (c && !c.used_at && c.expires_at > now && c.attempts >= TOTP_SESSION_ATTEMPTS)
      throw appError('totp_attempts_exceeded', { retryAfter: 60 });
    throw appError('totp_session_invalid', { detail: 'challenge spent, expired or unknown' });
  }
  const result = await spendSecondFactor(deps, row, code);
  if (result === 'wrong') {
    const { count } = await hitRateLimit(deps, RULES.totpFailuresPerUser, claims.u);
    await recordWrongSecondFactor(deps, row, claims.a || undefined, count, meta);
    throw appError('totp_code_invalid');
  }
  if (!(await challenges.spend(deps, claims.c, now))) throw appError('totp_session_invalid', { detail: 'challenge raced' });
  await recordAuditEvent(
    deps,
    {
      event: 'login.second_factor',
      userId: row.id,
      appId: claims.a || undefined,
      data: { method: result === 'recovery' ? 'recovery_code' : 'totp' },
    },
    meta,
  );
  return toUser(row);
}

/** The callback of an upstream provider (Sign in with Google) for a flow already claimed. */
export async function signInWithUpstream(
  deps: SignInDeps,
  flow: UpstreamFlow,
  callbackUrl: URL,
  meta: RequestMeta = {},
  deviceCookie?: string,
): Promise<SignInAnswer> {
  const pending = openRequest(deps, flow.app, flow.client);
  const user = await completeUpstreamLogin(deps, flow, callbackUrl, meta);
  return withDevice(deps, await finishSignIn(deps, flow.app, user, flow.client, pending, meta, null), user, deviceCookie);
}

/** The browser that just signed in is now a known device of this account. */
function withDevice(deps: Pick<Deps, 'secret'>, outcome: SignInAnswer, user: User, deviceCookie: string | undefined): SignInAnswer {
  return { ...outcome, deviceCookie: rememberKnownDevice(deps.secret, deviceCookie, user.id) };
}

/**
/**
 * The verification link opened in the browser that asked for it (accounts.ts verifyEmailInBrowser
 * said so): the user is signed in and the pending sign-in continues, as a password sign-in would end.
 * A broken pending request is thrown (isSignInRequestRefusal) before anything is written. amr is
 * unknown: the link proved the mailbox, not the password.
 */
export async function signInAfterVerification(
  deps: SignInDeps,
  app: App,
  user: User,
  request: SignInRequest,
  meta: RequestMeta = {},
): Promise<SignInAnswer> {
  const pending = openRequest(deps, app, request);
  return finishSignIn(deps, app, user, request, pending, meta, null);
}

type PasswordCredentials = { email?: string | undefined; password?: string | undefined };
type SessionCookies = { sessionCookie: string; deviceCookie: string };
/** A sign-in that opens only the SSO session (/account, /device): the cookies, or the code page first (TOTP on). */
export type SessionSignIn = ({ kind: 'session' } & SessionCookies) | { kind: 'second_factor_required'; totpSession: string };
/** What a session-only sign-in is for: its totp_session is good for that page only. */
export type SessionPurpose = 'account' | 'device';

/**
 * The /device page's sign-in (RFC 8628 §3.3): the password check of the hosted form (lockout,
 * throttles, known devices), then the SSO session alone; the device gets its tokens at /token once
 * the user approves. Refusals are thrown for the form to show, as signInWithPassword does.
 */
export async function signInForDevice(
  deps: SignInDeps,
  app: App,
  credentials: PasswordCredentials,
  meta: RequestMeta = {},
  deviceCookie?: string,
): Promise<SessionSignIn> {
  assertPasswordSignIn(app);
  return startPasswordSession(deps, credentials, { purpose: 'device', app }, meta, deviceCookie);
}

/**
 * The sign-in of Keymaster's own account page (/account): the password, then an SSO session and
 * nothing for any app. Refusals are thrown as on the hosted form (isSignInRefusal).
 */
export async function signInToAccount(
  deps: SignInDeps,
  credentials: PasswordCredentials,
  meta: RequestMeta = {},
  deviceCookie?: string,
): Promise<SessionSignIn> {
  return startPasswordSession(deps, credentials, { purpose: 'account' }, meta, deviceCookie);
}

/** The code page of a session-only sign-in (/account, /device): the code, then the SSO session with amr [pwd, otp]. */
export async function finishSessionSignIn(
  deps: SignInDeps,
  target: { purpose: SessionPurpose; app?: App },
  totpSession: string,
  code: string,
  meta: RequestMeta = {},
  deviceCookie?: string,
): Promise<SessionCookies> {
  const bind = { flow: 'session' as const, appId: target.app?.appId ?? '', redirectUri: target.purpose };
  const user = await passSecondFactor(deps, totpSession, code, bind, meta);
  const { cookieValue } = await startSession(deps, user.id, meta, ['pwd', 'otp']);
  return { sessionCookie: cookieValue, deviceCookie: rememberKnownDevice(deps.secret, deviceCookie, user.id) };
}

async function startPasswordSession(
  deps: SignInDeps,
  credentials: PasswordCredentials,
  target: { purpose: SessionPurpose; app?: App },
  meta: RequestMeta,
  deviceCookie: string | undefined,
): Promise<SessionSignIn> {
  const appId = target.app?.appId;
  if (!credentials.email || !credentials.password) throw appError('credentials_missing');
  const knownDevices = readKnownDevices(deps.secret, deviceCookie);
  const user = await authenticatePassword(
    deps,
    { email: credentials.email, password: credentials.password, ...(appId !== undefined && { appId }), knownDevices },
    meta,
  );
  const totpSession = await openSecondFactor(deps, user, target.app, { flow: 'session', redirectUri: target.purpose });
  if (totpSession) return { kind: 'second_factor_required', totpSession };
  const { cookieValue } = await startSession(deps, user.id, meta, ['pwd']);
  return { kind: 'session', sessionCookie: cookieValue, deviceCookie: rememberKnownDevice(deps.secret, deviceCookie, user.id) };
}

/** GET /login with a live SSO session: fresh tokens for the app at once, no new session; undefined when there is none. */
export async function resumeSignIn(
  deps: SignInDeps,
  app: App,
  request: Omit<SignInRequest, 'authz'>,
  sessionCookie: string | undefined,
  meta: RequestMeta = {},
): Promise<SignInAnswer | undefined> {
  assertPushedIfRequired(app, undefined);
  assertKeymasterFlowApp(app);
  const resumed = await resumeSession(deps, sessionCookie);
  if (!resumed) return undefined;
  const { session, user } = resumed;
  // The SSO fast path is a sign-in to this app too: its access rule (memberships.ts) applies.
  const { roles } = await admitToApp(deps, { userId: user.id, appId: app.appId, record: true }, meta);
  const tokens = await issueTokens(deps, { ...user, roles }, app, { sessionId: session.id, authTime: session.auth_time }, meta);
  return { kind: 'tokens', tokens, redirectUri: request.redirectUri, state: request.state, sessionCookie: undefined };
}

/** The SSO session and the code or token set, in one transaction: both are written, or neither. */
async function finishSignIn(
  deps: SignInDeps,
  app: App,
  user: User,
  request: SignInRequest,
  pending: PendingAuthorization | undefined,
  meta: RequestMeta,
  amr: readonly AuthMethod[] | null,
): Promise<SignInAnswer> {
  // The app's access rule first (memberships.ts), outside the transaction: a pending enrolment
  // (approval policy) is kept even though this sign-in is refused.
  const { roles } = await admitToApp(deps, { userId: user.id, appId: app.appId, record: true }, meta);
  const appUser = { ...user, roles };
  return deps.db.transaction().execute(async (trx): Promise<SignInAnswer> => {
    const d = { ...deps, db: trx };
    const { cookieValue, session } = await startSession(d, user.id, meta, amr);
    const ctx = { sessionId: session.id, authTime: session.auth_time };
    if (pending) {
      const next = await codeOrConsent(d, app, appUser, pending, { ...ctx, amr: session.amr });
      if (next.kind === 'consent') {
        const { redirectUri, authz } = request as Required<Pick<SignInRequest, 'redirectUri' | 'authz'>>;
        return { kind: 'consent', appId: app.appId, redirectUri, authz, sessionCookie: cookieValue };
      }
      return { kind: 'code_redirect', url: next.url, sessionCookie: cookieValue };
    }
    const tokens = await issueTokens(d, appUser, app, ctx, meta);
    return { kind: 'tokens', tokens, redirectUri: request.redirectUri, state: request.state, sessionCookie: cookieValue };
  });
}
