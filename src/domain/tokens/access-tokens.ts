// Access tokens: RS256 JWTs, header kid and typ "at+jwt" (RFC 9068 §2.1), so an ID token can never
// pass for an access token. Two claim sets:
// - Keymaster's own sign-in (/login, the account API, a family without a scope): the quick start's
//   claims (sub email name roles aud iss iat exp) + jti and client_id — seed 000's contract.
// - An OAuth/OIDC grant (a code exchange at /token, or the rotation of its family): RFC 9068 §2.2
//   (iss exp aud sub client_id iat jti, scope, auth_time, acr and amr when known: auth-context.ts)
//   and the user claims its scope grants
//   (OIDC Core §5.4, claims.ts). aud is the resource asked for (RFC 8707), else the client's app_id.
import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { epochSeconds } from '../../lib/clock.js';
import type { App } from '../apps/apps.js';
import { authContextClaims } from '../oidc/auth-context.js';
import { namedClaims, scopedClaims, type ClaimsUser } from '../oidc/claims.js';
import type { User } from '../users/users.js';
import { verifyOurJwt } from './verify-jwt.js';

/**
 * A verified user access token. email, name and roles are always in a Keymaster sign-in's token; an
 * OAuth grant's carries them only as its scope grants, and carries the scope.
 */
export interface AccessTokenClaims extends JWTPayload {
  sub: string;
  aud: string;
  iss: string;
  iat: number;
  exp: number;
  jti: string;
  client_id?: string;
  email?: string;
  name?: string | null;
  roles?: string[];
  scope?: string;
  auth_time?: number;
  /** How the user signed in (auth-context.ts): OAuth-flow tokens only, when known. */
  amr?: string[];
  acr?: string;
  /** The refresh-token family (or code's family) and SSO session the token was issued under (liveness.ts). */
  grant_id?: string;
  sid?: string;
}

/** What ties a token to its grant and session, for liveness.ts: grant_id, and sid when there is one. */
export type GrantTies = { grant_id: string; sid?: string } | undefined;

/**
 * The grant behind an OAuth-flow access token: its scope, when the user authenticated (if known), and
 * the resource server it is for (RFC 8707; null: the client itself).
 */
export interface OAuthGrant {
  scope: string;
  authTime: Date | null;
  resource: string | null;
  /** How the user signed in (auth-context.ts), as the code carried it; null or absent: unknown. */
  amr?: string | null;
  /**
   * Claims asked for at /userinfo with the `claims` parameter (OIDC Core §5.5, claims-request.ts):
   * the token carries them, as it carries its scope's (RFC 9068 §2.2.2), and /userinfo answers them.
   */
  userinfoClaims?: readonly string[];
}

type IssueDeps = Pick<Deps, 'config' | 'clock' | 'keys' | 'metrics'>;
export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
  claims: AccessTokenClaims;
}

export function accessTokenTtl(deps: Pick<Deps, 'config'>, app: App): number {
  return app.accessTokenTtl ?? deps.config.accessTokenTtl;
}

async function signAccessToken(deps: IssueDeps, app: App, claims: { sub: string; aud: string } & Record<string, unknown>) {
  const iat = epochSeconds(deps.clock.now());
  const expiresIn = accessTokenTtl(deps, app);
  const all: AccessTokenClaims = { ...claims, iss: deps.config.issuer, iat, exp: iat + expiresIn, jti: randomUUID() };
  const token = await deps.keys.sign(all, 'at+jwt');
  deps.metrics.tokensIssued.inc({ kind: 'access' });
  return { token, expiresIn, claims: all };
}

/** A Keymaster sign-in's access token (seed 000's claims, plus client_id). */
export async function issueAccessToken(
  deps: IssueDeps,
  user: Pick<User, 'id' | 'email' | 'name' | 'roles'>,
  app: App,
  ties?: GrantTies,
): Promise<IssuedAccessToken> {
  return signAccessToken(deps, app, {
    sub: user.id,
    email: user.email,
    name: user.name,
    roles: user.roles,
    aud: app.appId,
    client_id: app.appId,
    ...ties,
  });
}

/** An OAuth/OIDC grant's access token (RFC 9068 §2.2): user claims only as the grant's scope allows. */
export async function issueGrantAccessToken(
  deps: IssueDeps,
  user: ClaimsUser,
  app: App,
  grant: OAuthGrant,
  ties?: GrantTies,
): Promise<IssuedAccessToken> {
  return signAccessToken(deps, app, {
    sub: user.id,
    aud: grant.resource ?? app.appId,
    client_id: app.appId,
    scope: grant.scope,
    ...(grant.authTime && { auth_time: epochSeconds(grant.authTime) }),
    ...authContextClaims(grant.amr),
    ...namedClaims(user, grant.userinfoClaims ?? []),
    ...scopedClaims(user, grant.scope),
    ...ties,
  });
}

/**
 * Verifies a user access token: RS256 only (never `none`, never HS256 with our public key), a kid we
 * publish, typ at+jwt, our issuer, not expired (by deps.clock). `audience` is checked when given.
 */
export async function verifyAccessToken(
  deps: Pick<Deps, 'config' | 'clock' | 'keys'>,
  token: string,
  opts: { audience?: string } = {},
): Promise<AccessTokenClaims> {
  const v = await verifyOurJwt(deps, token, { typ: 'at+jwt', ...(opts.audience !== undefined && { audience: opts.audience }) });
  if (!v.ok) throw appError(v.expired ? 'access_token_expired' : 'access_token_invalid', { detail: v.reason });
  if (typeof v.payload.aud !== 'string') throw appError('access_token_invalid', { detail: 'aud is not a single app' });
  // A service token (client credentials) is never a user's access token, and the reverse.
  if (v.payload.token_type === 'service')
    throw appError('access_token_invalid', { detail: 'service token where a user token is expected' });
  return v.payload as AccessTokenClaims;
}

/** A verified service token (client credentials, token_grants.ts): sub = client_id = the app. */
export interface ServiceTokenClaims extends JWTPayload {
  sub: string;
  aud: string;
  client_id: string;
  scope?: string;
  token_type: 'service';
}

/**
 * Verifies a service token with the same checks as verifyAccessToken (RS256, our kid, typ at+jwt,
 * issuer, expiry), and that it is one: token_type "service", never a user's token. It has no user, so
 * no liveness; the caller checks its app still exists.
 */
export async function verifyServiceToken(deps: Pick<Deps, 'config' | 'clock' | 'keys'>, token: string): Promise<ServiceTokenClaims> {
  const v = await verifyOurJwt(deps, token, { typ: 'at+jwt' });
  if (!v.ok) throw appError(v.expired ? 'access_token_expired' : 'access_token_invalid', { detail: v.reason });
  const c = v.payload;
  if (c.token_type !== 'service' || typeof c.sub !== 'string' || typeof c.aud !== 'string' || c.client_id !== c.sub) {
    throw appError('access_token_invalid', { detail: 'not a service token' });
  }
  return c as ServiceTokenClaims;
}
