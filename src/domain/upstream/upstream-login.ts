// Sign-in through an upstream OpenID provider: authorization code + PKCE (RFC 7636), with state and
// nonce bound to this browser by a flow row whose id only the browser's HttpOnly cookie holds.
//   start:    new flow row (verifier + nonce encrypted, state hashed) → the upstream authorization URL
//   callback: spend the flow (one conditional UPDATE) → compare state → exchange the code and verify
//             the ID token (signature against the upstream JWKS, iss, aud, exp, nonce) → link the user.
import * as oidc from 'openid-client';
import type { Deps } from '../../deps.js';
import { AppError, appError } from '../../errors.js';
import { HOUR, MINUTE } from '../../lib/clock.js';
import { decrypt, deriveKey, encrypt, randomToken, safeEqual, sha256 } from '../../lib/crypto.js';
import { assertKeymasterFlowApp, findApp, type App } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { consumeRateLimit, type RateLimitRule } from '../rate-limits/rate-limits.js';
import type { User } from '../users/users.js';
import * as flows from './flow-store.js';
import { signInWithUpstreamProfile, type UpstreamProfile } from './identities.js';
import { PROVIDER_LABELS, upstreamEnabled, upstreamUnavailable, type UpstreamProviderName } from './upstream-providers.js';

export const FLOW_TTL_MS = 10 * MINUTE;
/** Each start writes a flow row: bound per IP so nobody can flood the table (or the upstream) for free. */
export const UPSTREAM_STARTS_PER_IP: RateLimitRule = { name: 'upstream_starts_ip', limit: 60, windowSeconds: 900 };
const SCOPE = 'openid email profile';

/** Where the upstream sends the browser back; must be registered with the upstream exactly. */
export function upstreamCallbackUrl(deps: Pick<Deps, 'config'>, provider: UpstreamProviderName): string {
  return `${deps.config.issuer}/login/${provider}/callback`;
}

export interface ClientRequest {
  redirectUri: string;
  state: string | undefined;
  /** A sealed OIDC authorization request (/authorize): the sign-in then ends with a code, not tokens. */
  authz?: string | undefined;
}

export async function startUpstreamLogin(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'secret' | 'upstream' | 'rateCounters'>,
  provider: UpstreamProviderName,
  app: App,
  client: ClientRequest,
  meta: RequestMeta = {},
): Promise<{ cookieValue: string; authorizationUrl: string }> {
  // Keymaster's own flow ends in tokens with no consent page: not for a third-party app.
  if (client.authz === undefined) assertKeymasterFlowApp(app);
  if (!upstreamEnabled(deps.config, app, provider)) {
    throw appError('upstream_not_enabled', { provider: PROVIDER_LABELS[provider] });
  }
  if (meta.ip) await consumeRateLimit(deps, UPSTREAM_STARTS_PER_IP, meta.ip);
  const upstream = await deps.upstream.get(provider);
  const cookieValue = randomToken(32);
  const idHash = sha256(cookieValue);
  const state = randomToken(32);
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const now = deps.clock.now();
  await flows.deleteFlowsExpiredBefore(deps.db, new Date(now.getTime() - HOUR));
  await flows.insertFlow(deps.db, {
    id_hash: idHash,
    provider,
    state_hash: sha256(state),
    secrets_enc: encrypt(flowKey(deps), JSON.stringify({ codeVerifier, nonce, authz: client.authz }), idHash),
    app_id: app.appId,
    redirect_uri: client.redirectUri,
    client_state: client.state ?? null,
    created_at: now,
    expires_at: new Date(now.getTime() + FLOW_TTL_MS),
  });
  const url = oidc.buildAuthorizationUrl(upstream, {
    response_type: 'code',
    redirect_uri: upstreamCallbackUrl(deps, provider),
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  return { cookieValue, authorizationUrl: url.href };
}

export interface UpstreamFlow {
  provider: UpstreamProviderName;
  app: App;
  client: ClientRequest;
  stateHash: string;
  codeVerifier: string;
  nonce: string;
}

/** Spends this browser's flow. Missing, expired or already used → 400 (a replayed callback ends here). */
export async function claimUpstreamFlow(
  deps: Pick<Deps, 'db' | 'clock' | 'secret'>,
  provider: UpstreamProviderName,
  cookieValue: string | undefined,
): Promise<UpstreamFlow> {
  const expired = () => appError('upstream_flow_expired');
  if (!cookieValue || cookieValue.length > 128) throw expired();
  const idHash = sha256(cookieValue);
  const row = await flows.spendFlow(deps.db, idHash, provider, deps.clock.now());
  if (!row) throw expired();
  const app = await findApp(deps, row.app_id);
  if (!app) throw expired();
  const secrets = JSON.parse(decrypt(flowKey(deps), row.secrets_enc, idHash)) as { codeVerifier: string; nonce: string; authz?: string };
  return {
    provider,
    app,
    client: { redirectUri: row.redirect_uri, state: row.client_state ?? undefined, authz: secrets.authz },
    stateHash: row.state_hash,
    codeVerifier: secrets.codeVerifier,
    nonce: secrets.nonce,
  };
}

/**
 * Finishes a claimed flow from the URL the upstream redirected to. Every failure is an AppError with a
 * message fit for the branded error page; what the upstream said is logged (detail), never shown raw.
 */
export async function completeUpstreamLogin(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'upstream'>,
  flow: UpstreamFlow,
  callbackUrl: URL,
  meta: RequestMeta = {},
): Promise<User> {
  let profile: UpstreamProfile;
  try {
    profile = await verifyUpstreamCallback(deps, flow, callbackUrl);
  } catch (err) {
    if (err instanceof AppError) {
      const data = { method: flow.provider, reason: err.code, ...(err.detail && { detail: err.detail.slice(0, 200) }) };
      await recordAuditEvent(deps, { event: 'login.failure', appId: flow.app.appId, data }, meta);
    }
    throw err;
  }
  return signInWithUpstreamProfile(deps, profile, { appId: flow.app.appId }, meta);
}

/** State, the upstream's own error, then the code exchange and ID-token checks (all in openid-client). */
async function verifyUpstreamCallback(
  deps: Pick<Deps, 'config' | 'upstream'>,
  flow: UpstreamFlow,
  callbackUrl: URL,
): Promise<UpstreamProfile> {
  const label = PROVIDER_LABELS[flow.provider];
  const params = callbackUrl.searchParams;
  const state = params.get('state') ?? '';
  // State first: an error response with someone else's state must not end this browser's flow quietly.
  if (!safeEqual(sha256(state), flow.stateHash)) {
    throw appError('upstream_state_mismatch', { provider: label }, { detail: 'state mismatch' });
  }
  if (!upstreamEnabled(deps.config, flow.app, flow.provider)) {
    throw appError('upstream_not_enabled', { provider: label });
  }
  const upstreamError = params.get('error');
  if (upstreamError === 'access_denied') {
    throw appError('upstream_cancelled', { provider: label }, { detail: params.get('error_description') ?? undefined });
  }
  if (upstreamError) {
    throw appError('upstream_refused', { provider: label }, { detail: `upstream error ${upstreamError.slice(0, 100)}` });
  }
  const upstream = await deps.upstream.get(flow.provider);
  try {
    const tokens = await oidc.authorizationCodeGrant(upstream, callbackUrl, {
      pkceCodeVerifier: flow.codeVerifier,
      expectedState: state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    let { email, email_verified: emailVerified, name } = claims as { email?: unknown; email_verified?: unknown; name?: unknown };
    // Some providers put the profile only in userinfo (OIDC Core §5.4); Google puts it in the ID token.
    if (email === undefined && upstream.serverMetadata().userinfo_endpoint) {
      const info = await oidc.fetchUserInfo(upstream, tokens.access_token, claims.sub);
      ({ email, email_verified: emailVerified, name } = info);
    }
    return {
      provider: flow.provider,
      subject: claims.sub,
      email: typeof email === 'string' ? email : undefined,
      emailVerified,
      name: typeof name === 'string' ? name : undefined,
    };
  } catch (err) {
    throw upstreamFailure(flow.provider, err);
  }
}

const VERIFICATION_FAILURES = new Set([
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_PARSE_ERROR',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_UNSUPPORTED_OPERATION',
  'OAUTH_INVALID_REQUEST',
]);

/** Upstream said no (400), the answer failed verification (400), or the upstream is unreachable (503). */
function upstreamFailure(provider: UpstreamProviderName, err: unknown): AppError {
  const label = PROVIDER_LABELS[provider];
  const e = err as { code?: unknown; error?: unknown; message?: string };
  // oauth4webapi names the failing claim (never its value) two causes down: say which check failed.
  const claim = (err as { cause?: { cause?: { claim?: unknown } } }).cause?.cause?.claim;
  const detail = `${typeof e.code === 'string' ? e.code : 'error'}: ${e.message ?? String(err)}${typeof claim === 'string' ? ` (${claim})` : ''}`;
  if (
    err instanceof oidc.ResponseBodyError ||
    err instanceof oidc.AuthorizationResponseError ||
    err instanceof oidc.WWWAuthenticateChallengeError
  ) {
    return appError('upstream_refused', { provider: label }, { detail });
  }
  if (typeof e.code === 'string' && VERIFICATION_FAILURES.has(e.code)) {
    return appError('upstream_unverifiable', { provider: label }, { detail });
  }
  return upstreamUnavailable(provider, detail);
}

function flowKey(deps: Pick<Deps, 'secret'>): Buffer {
  return deriveKey(deps.secret, 'upstream');
}
