// Every wire shape a token set travels in, in one place: the domain returns camelCase values, these
// spell them as each contract documents. The token type is "Bearer" everywhere but where a seed
// spells it "bearer" (the account API, seed 004; client-credentials tokens, KEYMASTER-API.md §5);
// RFC 6749 §7.1 makes it case-insensitive, so each contract keeps its documented spelling.
import type { OAuthTokens, ServiceToken } from '../domain/oidc/token-grants.js';
import type { IssuedTokens } from '../domain/tokens/refresh-tokens.js';
import type { User } from '../domain/users/users.js';

type TokenPair = Pick<IssuedTokens, 'accessToken' | 'refreshToken' | 'expiresIn'>;

/** POST /token/refresh (KEYMASTER-API.md §5, Tokens). */
export const keymasterTokensJson = (t: TokenPair) => ({
  access_token: t.accessToken,
  refresh_token: t.refreshToken,
  token_type: 'Bearer' as const,
  expires_in: t.expiresIn,
});

/** The account API's login and refresh (seed 004 spells the type "bearer"). */
export const accountTokensJson = (t: TokenPair) => ({
  access_token: t.accessToken,
  refresh_token: t.refreshToken,
  token_type: 'bearer' as const,
  expires_in: t.expiresIn,
});

/** POST /token, authorization_code and refresh_token grants (RFC 6749 §5.1, OIDC Core §3.1.3.3). */
export function oauthTokensJson(t: OAuthTokens) {
  return {
    access_token: t.accessToken,
    token_type: 'Bearer' as const,
    expires_in: t.expiresIn,
    scope: t.scope,
    ...(t.idToken !== undefined && { id_token: t.idToken }),
    ...(t.refreshToken !== undefined && { refresh_token: t.refreshToken }),
  };
}

/** POST /token and POST /auth/token, client_credentials grant (KEYMASTER-API.md §5: "bearer"). */
export const serviceTokenJson = (t: ServiceToken) => ({
  access_token: t.accessToken,
  token_type: 'bearer' as const,
  expires_in: t.expiresIn,
  scope: t.scope,
});

/** The hosted sign-in's 303 to the app's callback: the tokens (and state) in the query, as the quick start documents. */
export function tokenRedirectUrl(redirectUri: string, tokens: TokenPair, state: string | undefined): string {
  const url = new URL(redirectUri);
  url.searchParams.set('access_token', tokens.accessToken);
  url.searchParams.set('refresh_token', tokens.refreshToken);
  url.searchParams.set('token_type', 'Bearer');
  url.searchParams.set('expires_in', String(tokens.expiresIn));
  if (state !== undefined) url.searchParams.set('state', state);
  return url.toString();
}

/** The user in a login's answer (the account API's login, accept-invite). */
export function accountUserJson(u: User) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    email_verified: u.emailVerified,
    is_active: !u.disabled,
    created_at: u.createdAt.toISOString(),
    last_login_at: u.lastLoginAt?.toISOString() ?? null,
  };
}
