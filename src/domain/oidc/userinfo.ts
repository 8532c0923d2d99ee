// UserInfo (OIDC Core §5.3): the claims of the user behind a live user access token, as the scope
// the token carries grants them (§5.4, claims.ts), and those asked for with the `claims` parameter
// (§5.5, claims-request.ts): `openid` alone, and no `claims`, gives only sub. A token of
// Keymaster's own sign-in has no scope and carries email, name and roles itself; userinfo gives it those.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { verifyLiveAccessToken } from '../tokens/liveness.js';
import { findUserById } from '../users/users.js';
import { getMembership } from '../memberships/memberships.js';
import { CLAIM_SCOPES } from './claims-request.js';
import { namedClaims, scopedClaims } from './claims.js';

export async function userInfo(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'keys' | 'liveness'>,
  accessToken: string,
): Promise<Record<string, unknown>> {
  const claims = await verifyLiveAccessToken(deps, accessToken);
  const found = await findUserById(deps, claims.sub);
  if (!found || found.disabled) throw appError('access_token_invalid', { detail: 'user gone or disabled' });
  // The roles of the user's membership of the token's app, now (the token is live: not suspended there).
  const appId = claims.client_id ?? claims.aud;
  const wantsRoles = typeof claims.scope !== 'string' || Object.hasOwn(claims, 'roles') || claims.scope.split(' ').includes('roles');
  const roles = wantsRoles ? ((await getMembership(deps, found.id, appId))?.roles ?? []) : [];
  const user = { ...found, roles };
  if (typeof claims.scope === 'string') {
    // The scope's claims, and those asked for with the `claims` parameter (OIDC Core §5.5), which the
    // token carries (access-tokens.ts): answered with the user's current values.
    const carried = Object.keys(CLAIM_SCOPES).filter((name) => Object.hasOwn(claims, name));
    return { sub: user.id, ...namedClaims(user, carried), ...scopedClaims(user, claims.scope) };
  }
  // OIDC Core §5.3.2: a claim without a value is omitted, never null.
  return {
    sub: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    ...(user.name !== null && { name: user.name }),
    roles: user.roles,
  };
}
