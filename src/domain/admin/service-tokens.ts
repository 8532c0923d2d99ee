// Service tokens at the Admin API (KEYMASTER-API.md §5, v3.3.0): an app's client-credentials token
// (token_type "service", sub = client_id = the app) whose scope names an admin scope. It acts on its
// own app only (authorization.ts); a token issued for a resource server (aud ≠ the app) is that
// server's, not a key to the Admin API.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { findCachedApp } from '../apps/apps.js';
import { parseScope } from '../oidc/scopes.js';
import { verifyServiceToken } from '../tokens/access-tokens.js';
import type { ServiceActor } from './authorization.js';

/** The service scopes the Admin API honours. */
export const ADMIN_SERVICE_SCOPES = ['users:read', 'users:create', 'invites:create'] as const;

export async function verifyAdminServiceToken(
  deps: Pick<Deps, 'config' | 'clock' | 'keys' | 'db' | 'apps'>,
  token: string,
): Promise<ServiceActor> {
  const c = await verifyServiceToken(deps, token);
  if (c.aud !== c.sub) throw appError('access_token_invalid', { detail: 'a service token issued for a resource server' });
  // The app may have been deleted, or lost the grant, since the token was issued.
  const app = (await findCachedApp(deps, c.sub))?.app;
  if (!app || !app.grantTypes.includes('client_credentials'))
    throw appError('access_token_invalid', { detail: 'app gone or grant removed' });
  const scopes = parseScope(typeof c.scope === 'string' ? c.scope : undefined).filter(
    (s) => (ADMIN_SERVICE_SCOPES as readonly string[]).includes(s) && app.allowedScopes.includes(s),
  );
  if (scopes.length === 0) throw appError('admin_access_required', { detail: 'service token without an admin scope' });
  return { kind: 'service', appId: app.appId, scopes };
}
