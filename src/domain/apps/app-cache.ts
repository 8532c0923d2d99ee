// A short-lived in-process copy of app settings for the hot token paths (refresh rotation reads the app
// on every call). Several processes must behave as one server, so an entry lives at most TTL_MS of real
// (monotonic) time — a change made by another process (or the CLI) takes effect within that bound; a
// change made through this process's Deps invalidates the entry at once. It holds the app and the
// SHA-256 of its client secret: a secret rotated through another process stops working within the
// same bound as an app disabled there.
import type { App } from './apps.js';

export interface CachedApp {
  app: App;
  /** SHA-256 of the client secret (apps.client_secret_hash). */
  secretHash: string;
}

/** Upper bound on how stale a cached app may be (ms of real time, not deps.clock: this is a cache bound). */
export const APP_CACHE_TTL_MS = 1000;
const MAX_ENTRIES = 1000;

export interface ServiceToken {
  token: string;
  /** Epoch seconds. */
  iat: number;
  exp: number;
}

export class AppCache {
  #entries = new Map<string, { record: CachedApp; until: number }>();

  async get(appId: string, load: () => Promise<CachedApp | undefined>): Promise<CachedApp | undefined> {
    const now = performance.now();
    const hit = this.#entries.get(appId);
    if (hit && hit.until > now) return hit.record;
    const record = await load();
    if (record) {
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
      this.#entries.set(appId, { record, until: now + APP_CACHE_TTL_MS });
    } else {
      this.#entries.delete(appId);
    }
    return record;
  }

  invalidate(appId: string): void {
    this.#entries.delete(appId);
    this.#serviceTokens.delete(appId);
  }

  // Service tokens (client credentials) this process issued, for KEYMASTER_SERVICE_TOKEN_REUSE seconds:
  // a client asking again for the same scopes under the same signing key gets the same token (with
  // its remaining lifetime) instead of a new RS256 signature. Dropped with the app (invalidate).
  // By app id, then by `<kid> <variant>`.
  #serviceTokens = new Map<string, Map<string, ServiceToken>>();

  recentServiceToken(appId: string, kid: string, variant: string, now: number, reuseSeconds: number): ServiceToken | undefined {
    const hit = this.#serviceTokens.get(appId)?.get(`${kid} ${variant}`);
    return hit && hit.iat + reuseSeconds > now && hit.exp > now ? hit : undefined;
  }

  rememberServiceToken(appId: string, kid: string, variant: string, token: ServiceToken): void {
    let forApp = this.#serviceTokens.get(appId);
    if (!forApp) {
      if (this.#serviceTokens.size >= MAX_ENTRIES) this.#serviceTokens.clear();
      forApp = new Map();
      this.#serviceTokens.set(appId, forApp);
    }
    forApp.set(`${kid} ${variant}`, token);
  }
}
