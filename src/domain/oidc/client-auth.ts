// Client authentication at /token, /introspect and /revoke (RFC 6749 §2.3): client_secret_basic or
// client_secret_post for confidential apps; a public app names itself (client_id) and proves nothing
// here (PKCE does that for codes). Failures count against a per-client limit; success clears it.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { APP_CACHE_TTL_MS } from '../apps/app-cache.js';
import { authenticateClient, findApp, isUuid, type App } from '../apps/apps.js';
import { checkRateLimit, clearRateLimit, hitRateLimit, RULES } from '../rate-limits/rate-limits.js';

export interface ClientCredentials {
  /** From the Authorization: Basic header (already form-decoded, RFC 6749 §2.3.1). */
  basic?: { clientId: string; clientSecret: string } | undefined;
  /** From the body. */
  clientId?: string | undefined;
  clientSecret?: string | undefined;
}

export async function authenticateTokenClient(
  deps: Pick<Deps, 'db' | 'clock'> & Partial<Pick<Deps, 'config' | 'apps' | 'rateCounters'>>,
  creds: ClientCredentials,
  opts: { allowPublic: boolean },
): Promise<App> {
  if (creds.basic && creds.clientSecret !== undefined) throw appError('client_auth_twice');
  if (creds.basic && creds.clientId !== undefined && creds.clientId !== creds.basic.clientId) throw appError('client_id_mismatch');
  const clientId = creds.basic?.clientId ?? creds.clientId;
  const secret = creds.basic?.clientSecret ?? creds.clientSecret;
  if (!clientId) throw appError('client_auth_failed', { detail: 'no client_id' });
  const limited = isUuid(clientId);
  // Read on every token request: a read this process made within APP_CACHE_TTL_MS will do (its own
  // failures are never stale), the same bound within which an app disabled elsewhere stops working.
  const failures = limited
    ? await checkRateLimit(deps, RULES.clientCredentialsFailuresPerClient, clientId, { maxAgeMs: APP_CACHE_TTL_MS })
    : 0;

  if (secret === undefined) {
    // No secret: only a public app may go on (and only where the endpoint allows it).
    const app = await findApp(deps, clientId);
    if (app && app.clientType === 'public' && opts.allowPublic) return app;
    if (limited) await hitRateLimit(deps, RULES.clientCredentialsFailuresPerClient, clientId);
    throw appError('client_auth_failed', { detail: app ? `no secret for ${app.clientType} client` : 'unknown client' });
  }
  try {
    const app = await authenticateClient(deps, clientId, secret);
    if (app.clientType === 'public') throw appError('client_auth_failed', { detail: 'public client sent a secret' });
    if (failures > 0) await clearRateLimit(deps, RULES.clientCredentialsFailuresPerClient, clientId);
    return app;
  } catch (err) {
    if (limited) await hitRateLimit(deps, RULES.clientCredentialsFailuresPerClient, clientId);
    throw err;
  }
}
