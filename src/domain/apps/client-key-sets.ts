// The key sets private_key_jwt clients sign with (RFC 7523 §2.2), per app, in this process: an inline
// JWK Set is imported once per version; a jwks_uri is fetched through the outbound address policy
// (address-policy.ts, the webhook rules: no loopback, private or metadata address unless allow-listed),
// with a timeout and a size cap, kept for KEY_SET_TTL_MS, and fetched again early only when an
// assertion names a kid the set lacks (key rotation). Every attempt, success or failure, is recorded:
// no URI is tried more than once per REFETCH_COOLDOWN_MS, so no one (a client, or anyone sending JWTs
// with iss = its client_id) can make us hammer it. When a refetch fails, the keys fetched before stay
// in use for up to MAX_STALE_MS. Times are deps.clock's.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import { ADDRESS_REFUSED, guardedLookup, ipLiteralOf, type AddressPolicy } from '../../lib/address-policy.js';
import { HOUR, MINUTE, SECOND } from '../../lib/clock.js';
import { PublicJwks } from './client-keys.js';

export const KEY_SET_TTL_MS = 5 * MINUTE;
export const REFETCH_COOLDOWN_MS = 30 * SECOND;
/** How long keys fetched before stay in use while the jwks_uri fails. */
export const MAX_STALE_MS = HOUR;
const FETCH_TIMEOUT_MS = 5 * SECOND;
const MAX_BYTES = 64 * 1024;
const MAX_ENTRIES = 1000;

export interface KeySet {
  keys: JWTVerifyGetKey;
  /** Fetched by this call (a refetch for an unknown kid happened). */
  fresh: boolean;
}

interface Entry {
  source: string;
  /** The last key set fetched (null: none yet, or too stale to keep). */
  keys: JWTVerifyGetKey | null;
  /** When `keys` were fetched. */
  fetchedAt: number;
  /** When the URI was last tried, whatever the outcome. */
  attemptedAt: number;
  /** Why the last attempt failed (undefined: it succeeded). */
  error?: KeySetUnavailable | undefined;
}

/** Why a key set could not be had: logged as the failure's detail, never shown. */
export class KeySetUnavailable extends Error {}

export class ClientKeySets {
  #entries = new Map<string, Entry>();
  #inflight = new Map<string, Promise<Entry>>();

  constructor(private readonly policy: AddressPolicy) {}

  /**
   * The app's key set. `refetch`: the caller met an unknown kid; a jwks_uri is fetched again unless it
   * was fetched within the cooldown (then the cached set comes back with fresh = false).
   */
  async get(app: { appId: string; jwks: string | null; jwksUri: string | null }, now: number, refetch = false): Promise<KeySet> {
    if (app.jwks !== null) {
      const source = `inline ${app.jwks}`;
      const hit = this.#entries.get(app.appId);
      if (hit?.source === source && hit.keys) return { keys: hit.keys, fresh: false };
      const jwks = PublicJwks.safeParse(parseJson(app.jwks));
      if (!jwks.success) throw new KeySetUnavailable('the registered jwks is not a public JWK Set');
      const entry = { source, keys: createLocalJWKSet(jwks.data), fetchedAt: now, attemptedAt: now };
      this.#remember(app.appId, entry);
      return { keys: entry.keys, fresh: false };
    }
    if (app.jwksUri === null) throw new KeySetUnavailable('no jwks or jwks_uri registered');
    const source = `uri ${app.jwksUri}`;
    const found = this.#entries.get(app.appId);
    const hit = found?.source === source ? found : undefined;
    if (hit) {
      const usable = hit.keys !== null && now - hit.fetchedAt < MAX_STALE_MS ? hit.keys : null;
      const fresh = hit.error === undefined && now - hit.fetchedAt < KEY_SET_TTL_MS;
      if (usable && fresh && !refetch) return { keys: usable, fresh: false };
      // Tried within the cooldown (whatever came of it): no new fetch.
      if (now - hit.attemptedAt < REFETCH_COOLDOWN_MS) {
        if (usable) return { keys: usable, fresh: false };
        throw hit.error ?? new KeySetUnavailable('jwks_uri: no key set');
      }
    }
    const entry = await this.#fetchOnce(app.appId, app.jwksUri, source, now, hit);
    if (entry.error === undefined && entry.keys) return { keys: entry.keys, fresh: true };
    // The refetch failed: the keys fetched before, if not too stale.
    if (entry.keys && now - entry.fetchedAt < MAX_STALE_MS) return { keys: entry.keys, fresh: false };
    throw entry.error ?? new KeySetUnavailable('jwks_uri: no key set');
  }

  /** Concurrent requests of one app share one fetch; its outcome, good or bad, is remembered. */
  #fetchOnce(appId: string, uri: string, source: string, now: number, previous: Entry | undefined): Promise<Entry> {
    const running = this.#inflight.get(appId);
    if (running) return running;
    const p = fetchJwks(new URL(uri), this.policy)
      .then(
        (jwks): Entry => ({ source, keys: createLocalJWKSet(jwks), fetchedAt: now, attemptedAt: now }),
        (err: unknown): Entry => {
          const error = err instanceof KeySetUnavailable ? err : new KeySetUnavailable(`jwks_uri: ${String(err)}`.slice(0, 500));
          const kept = previous?.keys && now - previous.fetchedAt < MAX_STALE_MS ? previous : undefined;
          return { source, keys: kept?.keys ?? null, fetchedAt: kept?.fetchedAt ?? now, attemptedAt: now, error };
        },
      )
      .then((entry) => {
        this.#remember(appId, entry);
        return entry;
      })
      .finally(() => this.#inflight.delete(appId));
    this.#inflight.set(appId, p);
    return p;
  }

  #remember(appId: string, entry: Entry) {
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(appId, entry);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** GET a JWK Set: no redirects, no pooled socket, the policy checked on the address connected to. */
function fetchJwks(target: URL, policy: AddressPolicy): Promise<PublicJwks> {
  const literal = ipLiteralOf(target);
  const refusal = literal === undefined ? undefined : policy.refusal(literal);
  if (refusal) return Promise.reject(new KeySetUnavailable(`jwks_uri refused: ${refusal}`));
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new KeySetUnavailable(`jwks_uri ${target.origin}: ${why}`.slice(0, 500)));
    const req = request(
      target,
      {
        method: 'GET',
        agent: false,
        lookup: guardedLookup(policy),
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        headers: { Accept: 'application/jwk-set+json, application/json', 'User-Agent': 'Keymaster-JWKS/1' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return fail(`HTTP ${res.statusCode}`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BYTES) {
            req.destroy();
            return fail(`larger than ${MAX_BYTES} bytes`);
          }
          chunks.push(c);
        });
        res.once('error', (err) => fail(err.message));
        res.once('end', () => {
          const jwks = PublicJwks.safeParse(parseJson(Buffer.concat(chunks).toString('utf8')));
          if (!jwks.success) return fail(`not a public JWK Set: ${jwks.error.issues[0]?.message ?? ''}`);
          resolve(jwks.data);
        });
      },
    );
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === ADDRESS_REFUSED) return fail(err.message);
      fail(err.name === 'TimeoutError' || err.name === 'AbortError' ? 'timeout' : err.message);
    });
    req.end();
  });
}
