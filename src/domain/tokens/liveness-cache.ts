// A short-lived in-process copy of each user's access-token liveness (liveness.ts), so that the
// endpoints that accept an access token do not read the database on every request. As the app cache
// (domain/apps/app-cache.ts): several processes must behave as one server, so an entry lives at most
// LIVENESS_CACHE_TTL_MS of real (monotonic) time — an end made by another process or the CLI is seen
// within that bound; an end made through this process's Deps invalidates the user's entry at once
// (after its transaction commits). No LISTEN/NOTIFY: behind PgBouncer in transaction mode it is not
// delivered.
import type { UserLiveness } from './liveness.js';

/** Upper bound on how stale a cached liveness may be (ms of real time, not deps.clock: this is a cache bound). */
export const LIVENESS_CACHE_TTL_MS = 1000;
const MAX_ENTRIES = 10_000;

export class LivenessCache {
  #entries = new Map<string, { state: UserLiveness | undefined; until: number }>();
  /** Bumped by every invalidation: a load that overlapped one is used once and not kept. */
  #generation = 0;

  async get(userId: string, load: () => Promise<UserLiveness | undefined>): Promise<UserLiveness | undefined> {
    const now = performance.now();
    const hit = this.#entries.get(userId);
    if (hit && hit.until > now) return hit.state;
    const generation = this.#generation;
    const state = await load();
    if (generation === this.#generation) {
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
      this.#entries.set(userId, { state, until: now + LIVENESS_CACHE_TTL_MS });
    }
    return state;
  }

  /** Something of `userId` ended (a grant, a session, the password, the account): read it again next time. */
  invalidate(userId: string): void {
    this.#generation++;
    this.#entries.delete(userId);
  }
}
