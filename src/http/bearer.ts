// Bearer authentication for JSON endpoints (RFC 6750 §2.1): the user access token from the
// Authorization header, verified by the domain and checked live (domain/tokens/liveness.ts). Routes call
// it first thing; it throws invalid_token.
import type { FastifyRequest } from 'fastify';
import type { Deps } from '../deps.js';
import type { AccessTokenClaims } from '../domain/tokens/access-tokens.js';
import { verifyLiveAccessToken } from '../domain/tokens/liveness.js';
import { appError } from '../errors.js';

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(h.trim());
  return m?.[1];
}

/**
 * The account API acts for the user on their own account, so it takes only a token issued for the
 * app itself: one issued for a resource server (RFC 8707, aud ≠ client_id) is that server's to use,
 * never a key to the user's account (the server could otherwise read the sessions or sign the user
 * out everywhere).
 */
export async function authenticateBearer(deps: Deps, req: FastifyRequest, opts: { audience?: string } = {}): Promise<AccessTokenClaims> {
  const token = bearerToken(req);
  if (!token) throw appError('bearer_missing');
  const claims = await verifyLiveAccessToken(deps, token, opts);
  if (claims.client_id !== undefined && claims.aud !== claims.client_id) {
    throw appError('access_token_invalid', { detail: 'issued for a resource server, not for this app' });
  }
  return claims;
}
