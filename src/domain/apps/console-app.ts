// The built-in Console app (issue 14/15): the first-party public client /console signs in through
// (authorization code + PKCE). Its access tokens, for a user who holds an admin tier, are Admin JWTs.
// It exists on every server: ensureConsoleApp runs at start, once per process, and any number of
// processes may start together (the partial unique index apps_builtin lets one insert win).
import type { Deps } from '../../deps.js';
import { isLoopbackHost } from '../../lib/address-policy.js';
import { randomToken, sha256 } from '../../lib/crypto.js';
import * as store from './app-store.js';
import { toApp, type App } from './apps.js';

export const CONSOLE_APP_NAME = 'Keymaster Console';

/** Where the Console's sign-in returns: on the issuer's own origin, so it follows the issuer. */
export const consoleRedirectUri = (issuer: string) => `${issuer}/console/callback`;
const consoleLogoutUri = (issuer: string) => `${issuer}/console`;

/**
 * Creates the Console app if it is missing and points its URIs at the current issuer. Idempotent; its
 * app_id never changes once made, so Admin JWTs stay valid across restarts and issuer changes.
 */
export async function ensureConsoleApp(deps: Pick<Deps, 'db' | 'config' | 'clock' | 'apps'>): Promise<App> {
  const issuer = deps.config.issuer;
  const redirectUris = [consoleRedirectUri(issuer)];
  const postLogoutRedirectUris = [consoleLogoutUri(issuer)];
  const u = new URL(issuer);
  // An http: issuer on a real host (a development setup) needs the app's development flag for its URIs.
  const development = u.protocol === 'http:' && !isLoopbackHost(u.hostname);
  const row =
    (await store.findBuiltinApp(deps.db, 'console')) ??
    (await store.insertBuiltinAppIfAbsent(deps.db, {
      name: CONSOLE_APP_NAME,
      builtin: 'console',
      // A public client has no secret; the column wants one, so it holds the hash of a value nobody keeps.
      client_secret_hash: sha256(randomToken(32)),
      client_type: 'public',
      grant_types: ['authorization_code', 'refresh_token'],
      providers: ['password'],
      allowed_scopes: ['openid', 'profile', 'email', 'offline_access'],
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogoutRedirectUris,
      registration_policy: 'invite',
      available_roles: [],
      logo_url: null,
      primary_color: null,
      access_token_ttl: null,
      refresh_token_ttl_days: null,
      development,
    })) ??
    // Another process inserted it between our two statements.
    (await store.findBuiltinApp(deps.db, 'console'));
  if (!row) throw new Error('the Console app could not be created');
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  if (
    same(row.redirect_uris, redirectUris) &&
    same(row.post_logout_redirect_uris, postLogoutRedirectUris) &&
    row.development === development
  ) {
    return toApp(row);
  }
  const updated = await store.updateApp(deps.db, row.app_id, {
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    development,
    updated_at: deps.clock.now(),
  });
  deps.apps.invalidate(row.app_id);
  return toApp(updated ?? row);
}

/** The Console app's id, or undefined before the server first started on this database. */
export async function findConsoleAppId(deps: Pick<Deps, 'db'>): Promise<string | undefined> {
  return (await store.findBuiltinApp(deps.db, 'console'))?.app_id;
}
