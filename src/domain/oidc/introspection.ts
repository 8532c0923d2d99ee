// Introspection (RFC 7662) and revocation (RFC 7009) for the calling client's own tokens. Anything
// not live, not ours or not issued to the caller is {"active": false} and nothing more (§2.2). A user
// access token is live only while its user, grant and session are (domain/tokens/liveness.ts).
import type { Deps } from '../../deps.js';
import type { App } from '../apps/apps.js';
import type { RequestMeta } from '../audit/audit.js';
import { findRefreshTokenRecord, revokeRefreshToken } from '../tokens/refresh-tokens.js';
import { epochSeconds } from '../../lib/clock.js';
import { verifyOurJwt } from '../tokens/verify-jwt.js';
import { isLiveRefreshToken } from '../tokens/live.js';
import { accessTokenRefusal } from '../tokens/liveness.js';

export type Introspection = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: Introspection = { active: false };
const looksLikeJwt = (t: string) => t.split('.').length === 3;

export async function introspectToken(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'keys' | 'liveness'>,
  caller: App,
  token: string,
): Promise<Introspection> {
  if (looksLikeJwt(token)) {
    const v = await verifyOurJwt(deps, token, { typ: 'at+jwt' });
    if (!v.ok) return INACTIVE;
    const c = v.payload;
    const service = c.token_type === 'service';
    // The client the token was issued to: its aud may be a resource server (RFC 8707).
    const owner = typeof c.client_id === 'string' ? c.client_id : service ? c.sub : c.aud;
    if (owner !== caller.appId) return INACTIVE;
    if (!service && (await accessTokenRefusal(deps, { ...c, sub: c.sub as string, iat: c.iat as number }))) return INACTIVE;
    return {
      active: true,
      token_type: service ? 'service' : 'Bearer',
      client_id: caller.appId,
      sub: c.sub,
      iss: c.iss,
      iat: c.iat,
      exp: c.exp,
      jti: c.jti,
      ...(c.aud !== undefined && { aud: c.aud }),
      ...(typeof c.scope === 'string' && { scope: c.scope }),
      ...(typeof c.email === 'string' && { username: c.email }),
    };
  }
  if (token.length > 512) return INACTIVE;
  const row = await findRefreshTokenRecord(deps, token);
  const now = deps.clock.now();
  if (!row || row.app_id !== caller.appId || !isLiveRefreshToken(row, now)) return INACTIVE;
  return {
    active: true,
    token_type: 'refresh_token',
    client_id: caller.appId,
    sub: row.user_id,
    iss: deps.config.issuer,
    iat: epochSeconds(row.created_at),
    exp: epochSeconds(row.expires_at),
    ...(row.scope && { scope: row.scope }),
  };
}

/**
 * RFC 7009: refresh tokens of the caller are revoked with their family. Access tokens are
 * self-contained JWTs that expire within minutes; the endpoint still answers 200 for them.
 */
export async function revokeToken(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  caller: App,
  token: string,
  meta: RequestMeta = {},
): Promise<void> {
  if (looksLikeJwt(token) || token.length > 512) return;
  await revokeRefreshToken(deps, { refreshToken: token, appId: caller.appId }, meta);
}
