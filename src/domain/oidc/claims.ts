// Claims by scope (OIDC Core §5.4): what the ID token, /userinfo and an OAuth-flow access token say
// about the user, decided by the granted scope alone. `profile` → every profile claim we hold (name,
// updated_at), `email` → email and email_verified, `roles` → roles; `openid` alone → nothing but sub.
import { epochSeconds } from '../../lib/clock.js';
import type { User } from '../users/users.js';
import { hasScope } from './scopes.js';

/** What the scoped claims are made of: a user as read from users (or as the rotation statement returns it). */
/** roles: the user's roles in the app the claims are for (its membership's). */
export type ClaimsUser = Pick<User, 'id' | 'email' | 'name' | 'emailVerified' | 'updatedAt'> & { roles: string[] };

/** The user's claims `scope` grants; a claim without a value is omitted, never null (OIDC Core §5.3.2). */
export function scopedClaims(user: ClaimsUser, scope: string): Record<string, unknown> {
  return {
    ...(hasScope(scope, 'profile') && {
      ...(user.name !== null && { name: user.name }),
      // OIDC Core §5.1: seconds since the epoch of the last change to the user's information.
      updated_at: epochSeconds(user.updatedAt),
    }),
    ...(hasScope(scope, 'email') && { email: user.email, email_verified: user.emailVerified }),
    ...(hasScope(scope, 'roles') && { roles: user.roles }),
  };
}

/**
 * The user's claims among `names` (the `claims` request parameter, claims-request.ts), on top of
 * those of the scope; a claim without a value is omitted. Unknown names give nothing.
 */
export function namedClaims(user: ClaimsUser, names: readonly string[]): Record<string, unknown> {
  if (names.length === 0) return {};
  const all = scopedClaims(user, 'profile email roles');
  return Object.fromEntries(names.filter((n) => Object.hasOwn(all, n)).map((n) => [n, all[n]]));
}
