// UserInfo (OIDC Core §5.3): the claims of the user behind a live user access token. The access
// token already carries email, name and roles, so userinfo discloses nothing the token does not.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { verifyLiveAccessToken } from '../tokens/liveness.js';
import { findUserById } from '../users/users.js';

export async function userInfo(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'keys' | 'liveness'>,
  accessToken: string,
): Promise<Record<string, unknown>> {
  const claims = await verifyLiveAccessToken(deps, accessToken);
  const user = await findUserById(deps, claims.sub);
  if (!user || user.disabled) throw appError('access_token_invalid', { detail: 'user gone or disabled' });
  // OIDC Core §5.3.2: a claim without a value is omitted, never null.
  return {
    sub: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    ...(user.name !== null && { name: user.name }),
    roles: user.roles,
  };
}
