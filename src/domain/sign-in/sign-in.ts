// Signing a user in for an app: where every sign-in journey ends (password, upstream provider, a live
// SSO session; a passkey later). Each journey opens the pending request once, authenticates the user
// its own way, then finishSignIn opens the SSO session and issues the code or the token set in ONE
// transaction (a session without its tokens, or tokens without their session, is never left behind).
// The outcome is a tagged value; the HTTP layer sets the cookie and answers it. A journey that will
// need a second factor adds a `second_factor_required` outcome here, and its routes one case.
import type { Deps } from '../../deps.js';
import type { Locale } from '../../i18n/locales.js';
import { AppError, appError } from '../../errors.js';
import { assertKeymasterFlowApp, type App } from '../apps/apps.js';
import type { RequestMeta } from '../audit/audit.js';
import { codeOrConsent, openPending, type PendingAuthorization } from '../oidc/authorization.js';
import type { AuthMethod } from '../oidc/auth-context.js';
import { resumeSession, startSession } from '../sessions/sessions.js';
import { issueTokens, type IssuedTokens } from '../tokens/refresh-tokens.js';
import { completeUpstreamLogin, type UpstreamFlow } from '../upstream/upstream-login.js';
import { readKnownDevices, rememberKnownDevice } from '../users/known-devices.js';
import { authenticatePassword, rememberUserLocale, type User } from '../users/users.js';

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
  return withDevice(deps, await finishSignIn(deps, app, user, request, pending, meta, ['pwd']), user, deviceCookie);
}

/** The callback of an upstream provider (Sign in with Google) for a flow already claimed. */
export async function signInWithUpstream(
  deps: SignInDeps,
  flow: UpstreamFlow,
  callbackUrl: URL,
  meta: RequestMeta = {},
  deviceCookie?: string,
): Promise<SignInOutcome> {
  const pending = openRequest(deps, flow.app, flow.client);
  const user = await completeUpstreamLogin(deps, flow, callbackUrl, meta);
  return withDevice(deps, await finishSignIn(deps, flow.app, user, flow.client, pending, meta, null), user, deviceCookie);
}

/** The browser that just signed in is now a known device of this account. */
function withDevice(deps: Pick<Deps, 'secret'>, outcome: SignInOutcome, user: User, deviceCookie: string | undefined): SignInOutcome {
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
): Promise<SignInOutcome> {
  const pending = openRequest(deps, app, request);
  return finishSignIn(deps, app, user, request, pending, meta, null);
}

type PasswordCredentials = { email?: string | undefined; password?: string | undefined };
type SessionCookies = { sessionCookie: string; deviceCookie: string };

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
): Promise<SessionCookies> {
  assertPasswordSignIn(app);
  return startPasswordSession(deps, credentials, app.appId, meta, deviceCookie);
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
): Promise<SessionCookies> {
  return startPasswordSession(deps, credentials, undefined, meta, deviceCookie);
}

async function startPasswordSession(
  deps: SignInDeps,
  credentials: PasswordCredentials,
  appId: string | undefined,
  meta: RequestMeta,
  deviceCookie: string | undefined,
): Promise<SessionCookies> {
  if (!credentials.email || !credentials.password) throw appError('credentials_missing');
  const knownDevices = readKnownDevices(deps.secret, deviceCookie);
  const user = await authenticatePassword(
    deps,
    { email: credentials.email, password: credentials.password, ...(appId !== undefined && { appId }), knownDevices },
    meta,
  );
  const { cookieValue } = await startSession(deps, user.id, meta, ['pwd']);
  return { sessionCookie: cookieValue, deviceCookie: rememberKnownDevice(deps.secret, deviceCookie, user.id) };
}

/** GET /login with a live SSO session: fresh tokens for the app at once, no new session; undefined when there is none. */
export async function resumeSignIn(
  deps: SignInDeps,
  app: App,
  request: Omit<SignInRequest, 'authz'>,
  sessionCookie: string | undefined,
  meta: RequestMeta = {},
): Promise<SignInOutcome | undefined> {
  assertKeymasterFlowApp(app);
  const resumed = await resumeSession(deps, sessionCookie);
  if (!resumed) return undefined;
  const { session, user } = resumed;
  const tokens = await issueTokens(deps, user, app, { sessionId: session.id, authTime: session.auth_time }, meta);
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
): Promise<SignInOutcome> {
  return deps.db.transaction().execute(async (trx): Promise<SignInOutcome> => {
    const d = { ...deps, db: trx };
    const { cookieValue, session } = await startSession(d, user.id, meta, amr);
    const ctx = { sessionId: session.id, authTime: session.auth_time };
    if (pending) {
      const next = await codeOrConsent(d, app, user, pending, { ...ctx, amr: session.amr });
      if (next.kind === 'consent') {
        const { redirectUri, authz } = request as Required<Pick<SignInRequest, 'redirectUri' | 'authz'>>;
        return { kind: 'consent', appId: app.appId, redirectUri, authz, sessionCookie: cookieValue };
      }
      return { kind: 'code_redirect', url: next.url, sessionCookie: cookieValue };
    }
    const tokens = await issueTokens(d, user, app, ctx, meta);
    return { kind: 'tokens', tokens, redirectUri: request.redirectUri, state: request.state, sessionCookie: cookieValue };
  });
}
