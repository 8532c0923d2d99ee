// Client authentication at /token, /introspect, /revoke and /par (RFC 6749 §2.3): client_secret_basic
// or client_secret_post for confidential apps, or private_key_jwt (RFC 7523 §2.2, client-assertion.ts)
// for those registered for it, which then cannot use their secret; a public app names itself
// (client_id) and proves nothing here (PKCE does that for codes).
//
// Throttling counts failures only (DESIGN.md §7 rule 12: no third party may keep a client out): a
// client_id is public, so a limit keyed by it alone would let anyone lock the client out. Failures
// are counted per (client, source IP) — the Keymaster `/auth/token` contract, 10 per 15 min, reset on
// success — and per source IP across all clients (a spray). The secret is checked first (SHA-256 and a
// constant-time compare, cheaper than the counter): a correct secret, or a public client naming
// itself, is never refused by either limit; a wrong one past a limit answers 429 instead of 401.
import type { Deps } from '../../deps.js';
import { AppError, appError } from '../../errors.js';
import { APP_CACHE_TTL_MS } from '../apps/app-cache.js';
import { authenticateClient, findApp, isUuid, type App } from '../apps/apps.js';
import { assertedClientId, JWT_BEARER, verifyClientAssertion } from './client-assertion.js';
import { clearRateLimit, countFailure, peekRateLimit, RULES } from '../rate-limits/rate-limits.js';

export interface ClientCredentials {
  /** From the Authorization: Basic header (already form-decoded, RFC 6749 §2.3.1). */
  basic?: { clientId: string; clientSecret: string } | undefined;
  /** From the body. */
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** RFC 7521 §4.2: client_assertion_type and client_assertion from the body. */
  assertionType?: string | undefined;
  assertion?: string | undefined;
}

type ClientAuthDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'apps' | 'rateCounters' | 'clientKeys'>;

export async function authenticateTokenClient(
  deps: ClientAuthDeps,
  creds: ClientCredentials,
  opts: { allowPublic: boolean; source: string },
): Promise<App> {
  if (creds.assertion !== undefined || creds.assertionType !== undefined) return authenticateByAssertion(deps, creds, opts.source);
  if (creds.basic && creds.clientSecret !== undefined) throw appError('client_auth_twice');
  if (creds.basic && creds.clientId !== undefined && creds.clientId !== creds.basic.clientId) throw appError('client_id_mismatch');
  const clientId = creds.basic?.clientId ?? creds.clientId;
  const secret = creds.basic?.clientSecret ?? creds.clientSecret;
  if (!clientId) throw appError('client_auth_failed', { detail: 'no client_id' });

  let failure: AppError;
  if (secret === undefined) {
    // No secret: only a public app may go on (and only where the endpoint allows it).
    const app = await findApp(deps, clientId);
    if (app && app.clientType === 'public' && opts.allowPublic) return app;
    failure = appError('client_auth_failed', { detail: app ? `no secret for ${app.clientType} client` : 'unknown client' });
  } else {
    try {
      const app = await authenticateClient(deps, clientId, secret);
      if (app.clientType === 'public') throw appError('client_auth_failed', { detail: 'public client sent a secret' });
      // Its keys are its credential: the secret it was once given proves nothing any more.
      if (app.tokenEndpointAuthMethod === 'private_key_jwt')
        throw appError('client_auth_failed', { detail: 'secret sent by a private_key_jwt client' });
      await clearClientFailures(deps, clientId, opts.source);
      return app;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      failure = err;
    }
  }
  throw await countClientFailure(deps, clientId, opts.source, failure);
}

/** RFC 7521 §4.2 with RFC 7523 §2.2: a JWT signed by the client; throttled like a wrong secret. */
async function authenticateByAssertion(deps: ClientAuthDeps, creds: ClientCredentials, source: string): Promise<App> {
  if (creds.basic || creds.clientSecret !== undefined) throw appError('client_auth_twice');
  const clientId = creds.assertion === undefined ? undefined : assertedClientId(creds.assertion);
  if (creds.clientId !== undefined && clientId !== undefined && creds.clientId !== clientId) throw appError('client_id_mismatch');
  let failure: AppError;
  if (creds.assertionType !== JWT_BEARER)
    failure = appError('client_auth_failed', { detail: 'client_assertion_type missing or unsupported' });
  else if (!creds.assertion || !clientId)
    failure = appError('client_auth_failed', { detail: 'client_assertion missing or not a JWT with iss' });
  else {
    try {
      const app = await verifyClientAssertion(deps, clientId, creds.assertion);
      await clearClientFailures(deps, clientId, source);
      return app;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      failure = err;
    }
  }
  throw await countClientFailure(deps, clientId ?? creds.clientId ?? '', source, failure);
}

const pairKey = (clientId: string, source: string) => `${clientId}|${source}`;

/** A success resets its (client, source) count; the per-source count stays (one good client must not wipe a spray). */
async function clearClientFailures(deps: ClientAuthDeps, clientId: string, source: string): Promise<void> {
  const key = pairKey(clientId, source);
  // A read this process made within APP_CACHE_TTL_MS will do (its own failures are never stale): the
  // client-credentials hot path does not pay a round trip per request to learn there is nothing to clear.
  const { count } = await peekRateLimit(deps, RULES.clientCredentialsFailuresPerClient, key, { maxAgeMs: APP_CACHE_TTL_MS });
  if (count > 0) await clearRateLimit(deps, RULES.clientCredentialsFailuresPerClient, key);
}

/** Counts a failed authentication; past either limit the answer is 429 instead of the failure itself. */
async function countClientFailure(deps: ClientAuthDeps, clientId: string, source: string, failure: AppError): Promise<AppError> {
  // A client_id that cannot name an app is counted per source only (no row per junk id).
  const perPair = isUuid(clientId)
    ? await countFailure(deps, RULES.clientCredentialsFailuresPerClient, pairKey(clientId, source))
    : undefined;
  const perSource = await countFailure(deps, RULES.clientAuthFailuresPerIp, source);
  return perPair ?? perSource ?? failure;
}
