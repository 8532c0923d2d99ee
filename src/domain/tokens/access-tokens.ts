// Access tokens: RS256 JWTs with the quick start's claims (sub email name roles aud iss iat exp) + jti,
// header kid and typ "at+jwt" (RFC 9068 §2.1), so an ID token can never pass for an access token.
import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { epochSeconds } from '../../lib/clock.js';
import type { App } from '../apps/apps.js';
import type { User } from '../users/users.js';
import { verifyOurJwt } from './verify-jwt.js';

export interface AccessTokenClaims extends JWTPayload {
  sub: string;
  email: string;
  name: string | null;
  roles: string[];
  aud: string;
  iss: string;
  iat: number;
  exp: number;
  jti: string;
}

export function accessTokenTtl(deps: Pick<Deps, 'config'>, app: App): number {
  return app.accessTokenTtl ?? deps.config.accessTokenTtl;
}

export async function issueAccessToken(
  deps: Pick<Deps, 'config' | 'clock' | 'keys' | 'metrics'>,
  user: Pick<User, 'id' | 'email' | 'name' | 'roles'>,
  app: App,
  extra: Record<string, unknown> = {},
): Promise<{ token: string; expiresIn: number; claims: AccessTokenClaims }> {
  const iat = epochSeconds(deps.clock.now());
  const expiresIn = accessTokenTtl(deps, app);
  const claims: AccessTokenClaims = {
    sub: user.id,
    email: user.email,
    name: user.name,
    roles: user.roles,
    aud: app.appId,
    iss: deps.config.issuer,
    iat,
    exp: iat + expiresIn,
    jti: randomUUID(),
    ...extra,
  };
  const token = await deps.keys.sign(claims, 'at+jwt');
  deps.metrics.tokensIssued.inc({ kind: claims.token_type === 'service' ? 'service' : 'access' });
  return { token, expiresIn, claims };
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
