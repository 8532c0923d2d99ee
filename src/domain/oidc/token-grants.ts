// The /token grants (RFC 6749 §4.1.3, §6, §4.4): authorization_code (single use, bound to client,
// redirect_uri and PKCE; a replay revokes the refresh-token family it issued), refresh_token (the
// Keymaster rotation, plus a new ID token), client_credentials (service tokens, KEYMASTER-API.md §3).
import { randomUUID } from 'node:crypto';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { epochSeconds } from '../../lib/clock.js';
import { sha256 } from '../../lib/crypto.js';
import { isRegisteredResource, SERVICE_SCOPES, type App } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { accessTokenTtl, issueGrantAccessToken } from '../tokens/access-tokens.js';
import { forgetLiveness, grantClaims } from '../tokens/liveness.js';
import { admitToApp, getMembership } from '../memberships/memberships.js';
import { issueTokens, refreshTokenScope, revokeTokenFamily, rotateRefreshToken } from '../tokens/refresh-tokens.js';
import { findUserById } from '../users/users.js';
import { checkPkce } from './authorization.js';
import { readRequestedClaims } from './claims-request.js';
import { findCode, markCodeReplayed, spendCode } from './code-store.js';
import { issueIdToken } from './id-tokens.js';
import { formatScope, hasScope, parseScope } from './scopes.js';

export type GrantDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'keys' | 'log' | 'secret' | 'apps' | 'metrics' | 'rotations' | 'liveness'>;

/** What a code exchange or a refresh grant issued; src/http/token-responses.ts spells it as RFC 6749 §5.1 JSON. */
export interface OAuthTokens {
  accessToken: string;
  expiresIn: number;
  scope: string;
  idToken?: string;
  refreshToken?: string;
}

/** RFC 8707 §2: a `resource` must be one the app registered (absolute, no fragment), else invalid_target. */
export function checkResource(app: App, resource: string | undefined): void {
  if (resource !== undefined && !isRegisteredResource(app, resource)) throw appError('resource_not_allowed');
}

/**
 * Whether `app`, the client /token authenticated, proved itself: authenticateTokenClient returns a
 * confidential client only after checking its secret, a public one on its client_id alone.
 */
const authenticatedClient = (app: App) => app.clientType === 'confidential';

export async function exchangeAuthorizationCode(
  deps: GrantDeps,
  app: App,
  input: { code: string; redirectUri?: string | undefined; codeVerifier?: string | undefined; resource?: string | undefined },
  meta: RequestMeta = {},
): Promise<OAuthTokens> {
  if (!app.grantTypes.includes('authorization_code')) throw appError('grant_not_allowed', { grant: 'authorization_code' });
  // Before the code is spent, so a refusal leaves it usable.
  checkResource(app, input.resource);
  const hash = sha256(input.code);
  const now = deps.clock.now();
  const row = await spendCode(deps.db, hash, app.appId, now);
  if (!row) {
    const replayed = await markCodeReplayed(deps.db, hash, app.appId, now);
    if (replayed) {
      // RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a second use revokes what the first one issued.
      const revoked = await revokeTokenFamily(deps, replayed.family_id, now, 'code_replay');
      // The access token of the first exchange names this family (grant_id): refused from now on.
      forgetLiveness(deps, replayed.user_id);
      deps.log.warn(
        { event: 'authorization_code.replay', appId: app.appId, familyId: replayed.family_id, revoked },
        'authorization code replay',
      );
      await recordAuditEvent(
        deps,
        { event: 'authorization_code.replay', userId: replayed.user_id, appId: app.appId, data: { familyId: replayed.family_id, revoked } },
        meta,
      );
    }
    throw appError('code_invalid');
  }
  if (input.redirectUri !== row.redirect_uri) throw appError('code_redirect_uri_mismatch');
  const pkce = checkPkce(row.code_challenge, input.codeVerifier);
  if (pkce === 'missing') throw appError('pkce_verifier_missing');
  if (pkce === 'mismatch') throw appError('pkce_verifier_mismatch');
  if (pkce === 'unexpected') throw appError('pkce_verifier_unexpected');

  // RFC 8707 §2.2: the token request's resource, else the one asked for at /authorize, else the client.
  const grant: UserGrant = {
    userId: row.user_id,
    familyId: row.family_id,
    sessionId: row.session_id,
    authTime: row.auth_time,
    scope: row.scope,
    resource: input.resource ?? row.resource,
    amr: row.amr,
    // OIDC Core §5.5: the individual claims the request asked for (claims-request.ts).
    requestedClaims: row.requested_claims,
    nonce: row.nonce,
  };
  const { tokens: res, refreshToken } = await issueUserGrant(deps, app, grant, meta);
  if (refreshToken) {
    // A replay that raced this redemption may have revoked the family before it existed: look again.
    if ((await findCode(deps.db, hash))?.replayed_at) {
      await revokeTokenFamily(deps, row.family_id, deps.clock.now(), 'code_replay');
      forgetLiveness(deps, row.user_id);
      throw appError('code_invalid');
    }
    res.refreshToken = refreshToken;
  }
  return res;
}

/** What a user granted an app, as a code (or a device authorization) keeps it until the exchange. */
export interface UserGrant {
  userId: string;
  /** The grant the tokens name (grant_id), fixed when the code was issued. */
  familyId: string;
  sessionId: string | null;
  authTime: Date;
  scope: string;
  /** RFC 8707: the resource the access token is for; undefined = the client itself. */
  resource: string | null | undefined;
  amr: string | null;
  /** OIDC Core §5.5: the `claims` request kept with the grant (claims-request.ts); null = none. */
  requestedClaims: string | null;
  nonce: string | null;
}

/**
 * The tokens of a user grant, the one way every user-grant exchange issues them (the authorization
 * code, RFC 8628's device_code): an RFC 9068 access token tied to the grant (grant_id, sid: liveness
 * and back-channel logout), a refresh token when the grant has offline_access and the app may refresh,
 * an ID token when the grant has openid. The refresh token is returned apart, for the caller to hand
 * out only once it has checked nothing raced the exchange.
 */
export async function issueUserGrant(
  deps: GrantDeps,
  app: App,
  grant: UserGrant,
  meta: RequestMeta,
): Promise<{ tokens: OAuthTokens; refreshToken: string | undefined }> {
  const found = await findUserById(deps, grant.userId);
  if (!found || found.disabled) throw appError('user_cannot_sign_in');
  // The roles of the user's membership of this app now (memberships.ts): a suspension since the
  // code was issued refuses the exchange (invalid_grant).
  const { roles } = await admitToApp(deps, { userId: found.id, appId: app.appId });
  const user = { ...found, roles };
  const offline = hasScope(grant.scope, 'offline_access') && app.grantTypes.includes('refresh_token');
  const resource = grant.resource ?? null;
  const requested = readRequestedClaims(grant.requestedClaims);
  let accessToken: string;
  let expiresIn: number;
  let refreshToken: string | undefined;
  if (offline) {
    // RFC 6749 §6: issued under client authentication, refreshed only with it.
    const clientBound = authenticatedClient(app);
    const ctx = {
      familyId: grant.familyId,
      sessionId: grant.sessionId,
      authTime: grant.authTime,
      scope: grant.scope,
      clientBound,
      resource,
      amr: grant.amr,
      userinfoClaims: requested.userinfo,
    };
    ({ accessToken, expiresIn, refreshToken } = await issueTokens(deps, user, app, ctx, meta));
  } else {
    // No refresh token, but the grant's family still names it (a code replay ends it: liveness.ts).
    const ties = grantClaims({ familyId: grant.familyId, sessionId: grant.sessionId });
    const claims = { scope: grant.scope, authTime: grant.authTime, resource, amr: grant.amr, userinfoClaims: requested.userinfo };
    ({ token: accessToken, expiresIn } = await issueGrantAccessToken(deps, user, app, claims, ties));
  }
  const tokens: OAuthTokens = { accessToken, expiresIn, scope: grant.scope };
  if (hasScope(grant.scope, 'openid')) {
    tokens.idToken = await issueIdToken(deps, {
      user,
      app,
      scope: grant.scope,
      accessToken,
      authTime: grant.authTime,
      amr: grant.amr,
      claims: requested.id_token,
      nonce: grant.nonce,
      sessionId: grant.sessionId,
      ttl: accessTokenTtl(deps, app),
    });
  }
  return { tokens, refreshToken };
}

export async function refreshGrant(
  deps: GrantDeps,
  app: App,
  input: { refreshToken: string; scope?: string | undefined; resource?: string | undefined },
  meta: RequestMeta = {},
): Promise<OAuthTokens> {
  if (!app.grantTypes.includes('refresh_token')) throw appError('grant_not_allowed', { grant: 'refresh_token' });
  // Before the rotation spends the token. The family keeps no resource: each refresh names its own.
  checkResource(app, input.resource);
  // RFC 6749 §6: a narrower scope may be asked for, never a wider one. The family keeps its scope.
  // Checked BEFORE the rotation spends the token, so the refusal leaves it usable (a family's scope
  // never changes: reading it first decides nothing the rotation decides).
  if (input.scope !== undefined) {
    const granted = await refreshTokenScope(deps, { refreshToken: input.refreshToken, appId: app.appId });
    if (granted !== undefined && parseScope(input.scope).some((s) => !hasScope(granted ?? '', s))) throw appError('scope_exceeds_grant');
  }
  const rotated = await rotateRefreshToken(
    deps,
    { refreshToken: input.refreshToken, appId: app.appId, clientAuthenticated: authenticatedClient(app), resource: input.resource },
    meta,
  );
  const scope = rotated.scope ?? '';
  const res: OAuthTokens = { accessToken: rotated.accessToken, expiresIn: rotated.expiresIn, scope, refreshToken: rotated.refreshToken };
  if (hasScope(scope, 'openid')) {
    const found = await findUserById(deps, rotated.userId);
    const membership = found && (await getMembership(deps, found.id, app.appId));
    const user = found && { ...found, roles: membership?.roles ?? [] };
    if (user) {
      res.idToken = await issueIdToken(deps, {
        user,
        app,
        scope,
        accessToken: rotated.accessToken,
        authTime: rotated.authTime,
        sessionId: rotated.sessionId,
        ttl: accessTokenTtl(deps, app),
      });
    }
  }
  return res;
}

/** A client-credentials token (sub = the app); src/http/token-responses.ts spells it. */
export interface ServiceToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

/**
 * Client credentials (RFC 6749 §4.4): a service token, sub = client_id = the app, aud = the resource
 * asked for (RFC 8707) or else the app itself (RFC 9068 §2.2), only the app's allowed service scopes.
 * Within KEYMASTER_SERVICE_TOKEN_REUSE seconds of issuing one, the same client asking for the same
 * scopes and audience (same signing key) gets that token again, with its remaining lifetime in expiresIn.
 */
export async function clientCredentialsGrant(
  deps: Pick<Deps, 'config' | 'clock' | 'keys' | 'apps' | 'metrics'>,
  app: App,
  input: { scope?: string | undefined; resource?: string | undefined },
): Promise<ServiceToken> {
  if (app.clientType !== 'confidential' || !app.grantTypes.includes('client_credentials')) {
    throw appError('grant_not_allowed', { grant: 'client_credentials' });
  }
  checkResource(app, input.resource);
  const aud = input.resource ?? app.appId;
  const requested = parseScope(input.scope);
  const allowed = app.allowedScopes.filter((s) => (SERVICE_SCOPES as readonly string[]).includes(s));
  const bad = requested.find((s) => !allowed.includes(s));
  if (bad !== undefined) throw appError('scope_not_allowed', { scope: bad });
  const scope = formatScope(requested.length ? requested : allowed);
  const iat = epochSeconds(deps.clock.now());
  const expiresIn = accessTokenTtl(deps, app);
  const reuse = deps.config.serviceTokenReuse;
  const kid = deps.keys.active.kid;
  // Same client, signing key, scopes, audience and lifetime setting, or a new token.
  const variant = `${scope} ${expiresIn} ${aud}`;
  const recent = reuse > 0 ? deps.apps.recentServiceToken(app.appId, kid, variant, iat, reuse) : undefined;
  if (recent) {
    deps.metrics.tokensIssued.inc({ kind: 'service_reused' });
    return { accessToken: recent.token, expiresIn: recent.exp - iat, scope };
  }
  const exp = iat + expiresIn;
  const token = await deps.keys.sign(
    {
      iss: deps.config.issuer,
      sub: app.appId,
      aud,
      client_id: app.appId,
      scope,
      token_type: 'service',
      iat,
      exp,
      jti: randomUUID(),
    },
    'at+jwt',
  );
  deps.metrics.tokensIssued.inc({ kind: 'service' });
  if (reuse > 0) deps.apps.rememberServiceToken(app.appId, kid, variant, { token, iat, exp });
  return { accessToken: token, expiresIn, scope };
}
