// Authorization requests (RFC 6749 §4.1, OIDC Core §3.1.2): validation, the sealed pending request the
// sign-in page carries, and the decision (code now, sign-in page, or an error redirect).
// Until client_id and redirect_uri check out, every error is a page, never a redirect (§4.1.2.1).
// One validation (checkAuthorizationRequest) serves /authorize and /par (RFC 9126 §2.1); a request
// pushed to /par comes back here through its request_uri (pushed-requests.ts).
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { admitToApp, isAccessRefusal } from '../memberships/memberships.js';
import { appError } from '../../errors.js';
import { MINUTE, SECOND } from '../../lib/clock.js';
import { decrypt, deriveKey, encrypt, randomToken, sha256 } from '../../lib/crypto.js';
import { findApp, isRegisteredRedirectUri, isRegisteredResource, isUuid, USER_SCOPES, type App } from '../apps/apps.js';
import { consentNeeded } from '../consents/consents.js';
import { resumeSession } from '../sessions/sessions.js';
import type { User } from '../users/users.js';
import { formatRequestedClaims, parseClaimsRequest, type RequestedClaims } from './claims-request.js';
import { insertCode, spendUserCodes } from './code-store.js';
import { takePushedRequest as takePushedRow } from './pushed-request-store.js';
import { formatScope, parseScope } from './scopes.js';

export const CODE_TTL_MS = 60 * SECOND;
const PENDING_TTL_MS = 15 * MINUTE;
/** RFC 9126 §2.2: a pushed request is good for this long (expires_in), once. */
export const PUSHED_REQUEST_TTL_MS = 60 * SECOND;
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/; // base64url(SHA-256), RFC 7636 §4.2
const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/; // RFC 7636 §4.1

/** What survives the sign-in page: the validated request, sealed (AES-256-GCM) into a hidden field. */
export interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  scope: string;
  state?: string | undefined;
  nonce?: string | undefined;
  codeChallenge?: string | undefined;
  codeChallengeMethod?: string | undefined;
  /** RFC 8707: the resource server the access token is for (one of the app's registered resources). */
  resource?: string | undefined;
  /** OIDC Core §5.5: the individual claims asked for with `claims` that the app may have. */
  claims?: RequestedClaims | undefined;
  /** prompt=consent (OIDC Core §3.1.2.1): a third-party app's consent page is shown even if remembered. */
  forceConsent?: boolean | undefined;
  exp: number;
}

const PendingSchema = z.object({
  clientId: z.string(),
  redirectUri: z.string(),
  scope: z.string(),
  state: z.string().optional(),
  nonce: z.string().optional(),
  codeChallenge: z.string().optional(),
  codeChallengeMethod: z.string().optional(),
  resource: z.string().optional(),
  claims: z.object({ userinfo: z.array(z.string()), id_token: z.array(z.string()) }).optional(),
  forceConsent: z.boolean().optional(),
  exp: z.number(),
});

/** The parameters of an authorization request Keymaster reads (and a pushed request keeps). */
export const AUTHORIZATION_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'max_age',
  'login_hint',
  'request',
  'request_uri',
  'response_mode',
  'resource',
  'claims',
  'ui_locales',
] as const;
export type AuthorizationParams = Partial<Record<(typeof AUTHORIZATION_PARAMS)[number], string>>;

export type AuthorizationOutcome =
  | { kind: 'redirect'; url: string }
  | {
      kind: 'login';
      app: App;
      redirectUri: string;
      pending: string;
      loginHint?: string | undefined;
      /** OIDC Core §3.1.2.1 ui_locales, as asked (pushed or not); the pages pick one they speak. */
      uiLocales?: string | undefined;
    }
  /** A third-party app the user has not allowed these scopes: the consent page, carrying the sealed request. */
  | { kind: 'consent'; app: App; redirectUri: string; pending: string };

/** The error values a request is refused with once its client and redirect URI check out (§4.1.2.1). */
export type RefusalError =
  | 'invalid_request'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  | 'unsupported_response_type'
  | 'unauthorized_client'
  | 'invalid_scope'
  | 'invalid_target';

/** A request checked: valid (what to issue a code for, and how to decide), or refused (why). */
export type CheckedRequest =
  | { kind: 'valid'; app: App; pending: PendingAuthorization; prompts: string[]; maxAge: number | undefined; loginHint: string | undefined }
  | { kind: 'refused'; app: App; redirectUri: string; state: string | undefined; error: RefusalError; description: string };

/** The error redirect of RFC 6749 §4.1.2.1 (with RFC 9207 `iss`). */
export function errorRedirect(
  deps: Pick<Deps, 'config'>,
  redirectUri: string,
  error: string,
  description: string,
  state?: string,
): AuthorizationOutcome {
  const url = new URL(redirectUri);
  url.searchParams.set('error', error);
  url.searchParams.set('error_description', description);
  if (state !== undefined) url.searchParams.set('state', state);
  url.searchParams.set('iss', deps.config.issuer);
  return { kind: 'redirect', url: url.toString() };
}

export function sealPending(deps: Pick<Deps, 'secret'>, p: PendingAuthorization): string {
  return encrypt(deriveKey(deps.secret, 'authorization-request'), JSON.stringify(p), 'authz');
}

/**
 * The way back to the client when the sealed request a sign-in form carries cannot be used (expired,
 * tampered with, or another client's): the error redirect of RFC 6749 §4.1.2.1 to the form's
 * callback, so the client starts its sign-in again; never tokens. Undefined unless that callback is
 * registered for `app`. The client's state goes back only when the request is authentic and this
 * client's own for this callback (an expired one): a state taken from another request never does.
 */
export function abandonedRequestRedirect(
  deps: Pick<Deps, 'secret' | 'config'>,
  app: App,
  redirectUri: string,
  sealed: string,
  description = 'The sign-in request expired or is not valid',
): string | undefined {
  if (!isRegisteredRedirectUri(app, redirectUri)) return undefined;
  let state: string | undefined;
  try {
    const p = PendingSchema.parse(JSON.parse(decrypt(deriveKey(deps.secret, 'authorization-request'), sealed, 'authz')));
    if (p.clientId === app.appId && p.redirectUri === redirectUri) state = p.state;
  } catch {
    // Tampered with or not ours: there is no state to give back.
  }
  const outcome = errorRedirect(deps, redirectUri, 'access_denied', description, state);
  return outcome.kind === 'redirect' ? outcome.url : undefined;
}

/** The pending request from the sign-in form, or an error page if it was tampered with or is stale. */
export function openPending(deps: Pick<Deps, 'secret' | 'clock'>, sealed: string): PendingAuthorization {
  let parsed: PendingAuthorization;
  try {
    parsed = PendingSchema.parse(JSON.parse(decrypt(deriveKey(deps.secret, 'authorization-request'), sealed, 'authz')));
  } catch {
    throw appError('sign_in_request_invalid');
  }
  if (parsed.exp * 1000 < deps.clock.now().getTime()) throw appError('sign_in_request_expired');
  return parsed;
}

/**
 * Validates an authorization request: the client and redirect URI (failures thrown: pages at
 * /authorize, 400 JSON at /par), then everything else (a refusal, reported by redirect at /authorize).
 * `pushed`: the request arrives through /par (or its request_uri), as an app may require (RFC 9126 §6).
 */
export async function checkAuthorizationRequest(
  deps: Pick<Deps, 'db' | 'clock'>,
  p: AuthorizationParams,
  opts: { pushed: boolean },
): Promise<CheckedRequest> {
  // 1. Client and redirect URI: failures here are pages, never redirects.
  if (!p.client_id) throw appError('parameter_missing', { name: 'client_id' });
  const app = await findApp(deps, p.client_id);
  if (!app) throw appError('unknown_app', { party: 'client' }, { detail: `client ${p.client_id}` });
  if (!p.redirect_uri) throw appError('parameter_missing', { name: 'redirect_uri' });
  if (!isRegisteredRedirectUri(app, p.redirect_uri)) {
    throw appError('redirect_uri_not_registered', { party: 'client' }, { detail: `redirect_uri ${p.redirect_uri}` });
  }
  const redirectUri = p.redirect_uri;
  const fail = (error: RefusalError, description: string): CheckedRequest => ({
    kind: 'refused',
    app,
    redirectUri,
    state: p.state,
    error,
    description,
  });

  // 2. Everything else is reported to the client by redirect.
  if (app.requirePushedAuthorizationRequests && !opts.pushed) {
    return fail('invalid_request', 'This client must push its authorization requests to /par (RFC 9126)');
  }
  if (p.request !== undefined) return fail('request_not_supported', 'Request objects are not supported');
  if (p.request_uri !== undefined) return fail('request_uri_not_supported', 'request_uri is not supported');
  if (!p.response_type) return fail('invalid_request', 'Missing response_type');
  if (p.response_type !== 'code') return fail('unsupported_response_type', 'Only response_type=code is supported');
  if (p.response_mode !== undefined && p.response_mode !== 'query') return fail('invalid_request', 'Only response_mode=query is supported');
  if (!app.grantTypes.includes('authorization_code'))
    return fail('unauthorized_client', 'This client may not use the authorization code grant');

  // PKCE (RFC 7636, RFC 9700 §2.1.1): S256 only; required for public clients.
  if (p.code_challenge !== undefined || p.code_challenge_method !== undefined) {
    if (p.code_challenge_method !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
    if (!p.code_challenge || !PKCE_CHALLENGE.test(p.code_challenge)) return fail('invalid_request', 'code_challenge is malformed');
  } else if (app.clientType === 'public') {
    return fail('invalid_request', 'PKCE (code_challenge with S256) is required for this client');
  }

  const granted = grantableScopes(app, p.scope);
  if (granted.length === 0) return fail('invalid_scope', 'No requested scope is allowed for this client');
  // RFC 8707 §2: malformed, or not a resource registered for the client.
  if (p.resource !== undefined && !isRegisteredResource(app, p.resource)) {
    return fail('invalid_target', 'The requested resource is not valid for this client');
  }

  const prompts = parseScope(p.prompt);
  if (prompts.includes('none') && prompts.length > 1) return fail('invalid_request', 'prompt=none cannot be combined with other values');
  let maxAge: number | undefined;
  if (p.max_age !== undefined) {
    if (!/^\d{1,9}$/.test(p.max_age)) return fail('invalid_request', 'max_age must be a non-negative integer');
    maxAge = Number(p.max_age);
  }
  if (p.state !== undefined && p.state.length > 1000) return fail('invalid_request', 'state is too long');
  if (p.nonce !== undefined && p.nonce.length > 1000) return fail('invalid_request', 'nonce is too long');
  // OIDC Core §5.5: individual claims on top of the scope's, only those the app may have (a
  // third-party app: only those its consented scopes carry).
  const claims = p.claims === undefined ? undefined : parseClaimsRequest(app, p.claims, granted);
  if (claims === 'invalid') return fail('invalid_request', 'claims must be a JSON object as in OIDC Core §5.5');

  const pending: PendingAuthorization = {
    clientId: app.appId,
    redirectUri,
    scope: formatScope(granted),
    state: p.state,
    nonce: p.nonce,
    codeChallenge: p.code_challenge,
    codeChallengeMethod: p.code_challenge_method,
    resource: p.resource,
    claims,
    ...(prompts.includes('consent') && { forceConsent: true }),
    exp: Math.floor((deps.clock.now().getTime() + PENDING_TTL_MS) / 1000),
  };
  return { kind: 'valid', app, pending, prompts, maxAge, loginHint: p.login_hint };
}

/**
 * Validates an authorization request and decides: a code straight away (live SSO session, no
 * prompt=login, max_age satisfied), the sign-in page, or an error redirect. With a request_uri from
 * /par (RFC 9126 §4), the pushed parameters are the request and the others are ignored.
 */
export async function authorize(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'secret'>,
  query: AuthorizationParams,
  session: { cookieValue: string | undefined },
): Promise<AuthorizationOutcome> {
  // Only a request_uri of /par's own form is looked up; any other (OIDC Core §6.2's, to fetch) stays unsupported.
  const pushed = deps.config.par && query.request_uri?.startsWith(REQUEST_URI_PREFIX) === true;
  const p = pushed ? await takePushedRequest(deps, query) : query;
  const checked = await checkAuthorizationRequest(deps, p, { pushed });
  if (checked.kind === 'refused') return errorRedirect(deps, checked.redirectUri, checked.error, checked.description, checked.state);
  const { app, pending, prompts, maxAge } = checked;
  const fail = (error: string, description: string) => errorRedirect(deps, pending.redirectUri, error, description, pending.state);

  // 3. The SSO session, unless the client asks for a fresh sign-in.
  if (!prompts.includes('login')) {
    const live = await resumeSession(deps, session.cookieValue);
    const fresh = live && (maxAge === undefined || live.session.auth_time.getTime() + maxAge * 1000 >= deps.clock.now().getTime());
    if (live && fresh) {
      // The app's access rule (memberships.ts): a refusal goes back to the client as access_denied.
      try {
        await admitToApp(deps, { userId: live.user.id, appId: app.appId, record: true });
      } catch (err) {
        if (isAccessRefusal(err)) return fail('access_denied', err.description);
        throw err;
      }
      const ctx = { sessionId: live.session.id, authTime: live.session.auth_time, amr: live.session.amr };
      const next = await codeOrConsent(deps, app, live.user, pending, ctx);
      if (next.kind === 'redirect') return next;
      // OIDC Core §3.1.2.6: prompt=none cannot show the consent page.
      if (prompts.includes('none')) return fail('consent_required', 'The user must allow this client');
      return { kind: 'consent', app, redirectUri: pending.redirectUri, pending: sealPending(deps, pending) };
    }
  }
  if (prompts.includes('none')) return fail('login_required', 'The user must sign in');
  return {
    kind: 'login',
    app,
    redirectUri: pending.redirectUri,
    pending: sealPending(deps, pending),
    loginHint: checked.loginHint,
    uiLocales: p.ui_locales,
  };
}

/**
 * The signed-in user's answer to a pending request: the code redirect, or `consent` when the app is
 * third-party and the user has not allowed it these scopes (consents.ts decides).
 */
export async function codeOrConsent(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  app: App,
  user: User,
  pending: PendingAuthorization,
  session: { sessionId: string | null; authTime: Date; amr: string | null },
): Promise<{ kind: 'redirect'; url: string } | { kind: 'consent' }> {
  if (await consentNeeded(deps, app, user.id, parseScope(pending.scope), pending.forceConsent === true)) return { kind: 'consent' };
  return { kind: 'redirect', url: await issueCodeRedirect(deps, app, user, pending, session) };
}

/**
 * RFC 9126 §4: the parameters pushed under `request_uri` by the client named by `client_id`, spent by
 * this call (one atomic delete: a second use, or another client's, finds nothing). Unknown, used,
 * expired or another client's: an error page, since no redirect URI of the request can be trusted.
 */
async function takePushedRequest(deps: Pick<Deps, 'db' | 'clock'>, q: AuthorizationParams): Promise<AuthorizationParams> {
  if (!q.client_id) throw appError('parameter_missing', { name: 'client_id' });
  const row = isUuid(q.client_id) ? await takePushedRow(deps.db, sha256(q.request_uri!), q.client_id, deps.clock.now()) : undefined;
  if (!row) throw appError('request_uri_invalid', { detail: `request_uri unknown, used, expired or not of client ${q.client_id}` });
  // Stored by an older release, or otherwise not the shape we write: the request is spent and refused.
  const params = PushedParams.safeParse(JSON.parse(row.params));
  if (!params.success) throw appError('request_uri_invalid', { detail: 'stored pushed request has unreadable parameters' });
  return { ...params.data, client_id: q.client_id };
}

const PushedParams = z.partialRecord(z.enum(AUTHORIZATION_PARAMS), z.string());

/**
 * The user scopes a request may be granted (/authorize, and /device_authorization: RFC 8628 §3.1):
 * unknown values are ignored (OIDC Core §3.1.2.1); the grant is what the app may have. Empty: invalid_scope.
 */
export function grantableScopes(app: App, scope: string | undefined): string[] {
  return parseScope(scope).filter((s) => (USER_SCOPES as readonly string[]).includes(s) && app.allowedScopes.includes(s));
}

/** After a successful sign-in: the code for the pending request, as the redirect URL. */
export async function issueCodeRedirect(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  app: App,
  user: User,
  pending: PendingAuthorization,
  session: { sessionId: string | null; authTime: Date; amr: string | null },
): Promise<string> {
  if (pending.clientId !== app.appId) throw appError('sign_in_request_mismatch');
  const code = randomToken(32);
  const now = deps.clock.now();
  await insertCode(deps.db, {
    code_hash: sha256(code),
    app_id: app.appId,
    user_id: user.id,
    session_id: session.sessionId,
    redirect_uri: pending.redirectUri,
    scope: pending.scope,
    nonce: pending.nonce ?? null,
    code_challenge: pending.codeChallenge ?? null,
    code_challenge_method: pending.codeChallengeMethod ?? null,
    resource: pending.resource ?? null,
    auth_time: session.authTime,
    // What the session says of how the user signed in (auth-context.ts): the tokens' amr and acr.
    amr: session.amr,
    requested_claims: formatRequestedClaims(pending.claims),
    family_id: randomUUID(),
    created_at: now,
    expires_at: new Date(now.getTime() + CODE_TTL_MS),
  });
  const url = new URL(pending.redirectUri);
  url.searchParams.set('code', code);
  if (pending.state !== undefined) url.searchParams.set('state', pending.state);
  url.searchParams.set('iss', deps.config.issuer);
  return url.toString();
}

/** RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge. */
export function checkPkce(challenge: string | null, verifier: string | undefined): 'ok' | 'missing' | 'mismatch' | 'unexpected' {
  if (challenge === null) return verifier === undefined ? 'ok' : 'unexpected';
  if (verifier === undefined) return 'missing';
  if (!PKCE_VERIFIER.test(verifier)) return 'mismatch';
  return createHash('sha256').update(verifier, 'ascii').digest('base64url') === challenge ? 'ok' : 'mismatch';
}

/** Access to an app removed (token-inventory.ts endAppSignIns): the user's unexchanged codes for it are spent. */
export function spendOutstandingCodes(db: Deps['db'], userId: string, appId: string, now: Date): Promise<number> {
  return spendUserCodes(db, userId, appId, now);
}
