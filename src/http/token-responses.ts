// Every wire shape a token set travels in, in one place: the domain returns values, these spell them
// as each contract documents.
import type { TokenSet } from '../domain/tokens/refresh-tokens.js';

/** The hosted sign-in's 303 to the app's callback: the tokens (and state) in the query, as the quick start documents. */
export function tokenRedirectUrl(redirectUri: string, tokens: TokenSet, state: string | undefined): string {
  const url = new URL(redirectUri);
  url.searchParams.set('access_token', tokens.access_token);
  url.searchParams.set('refresh_token', tokens.refresh_token);
  url.searchParams.set('token_type', tokens.token_type);
  url.searchParams.set('expires_in', String(tokens.expires_in));
  if (state !== undefined) url.searchParams.set('state', state);
  return url.toString();
}
