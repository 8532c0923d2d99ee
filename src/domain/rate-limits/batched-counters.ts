// Batched rate-limit counters for the high-volume flood rules (a limit of BATCH_MIN_LIMIT or more per
// window, such as 600 refreshes a minute per IP). Counting every request with its own upsert cost one
// Postgres round trip per refresh or token request; here a process counts hits in memory and adds them
// to the same rate_limits rows every FLUSH_INTERVAL_MS, in one statement for all keys.
//
// The decision stays Postgres's where it matters: a hit that would bring the count (as Postgres last
// returned it, plus what this process has counted since) past the limit is not decided locally — it and
// everything pending for its key go to Postgres at once, and the returned total decides (so one
// process alone is exact). Far below the limit, several processes may together count up to one
// flush interval of each other's hits late: the overshoot is bounded by what all processes serve in
// about FLUSH_INTERVAL_MS, which is why rules with small limits (sign-in failures, registrations:
// brute-force bounds) never batch. The rows, windows and retry_after are the same as for exact rules.
import type { Logger } from 'pino';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../storage/db.js';
import { incrementCounters } from './rate-limit-store.js';

/** Rules whose (effective) limit per window is at least this are counted in batches. */
export const BATCH_MIN_LIMIT = 100;
export const FLUSH_INTERVAL_MS = 100;
const MAX_READS = 10_000;
const FLUSH_CHUNK = 1000;

type CounterRow = { count: number; window_start: Date };

interface Entry {
  windowSeconds: number;
  /** The count Postgres last returned for this key (0 before the first flush of a window). */
  known: number;
  /** Counted here, not yet sent. */
  pending: number;
  /** Sent in a flush that has not returned yet. */
  inflight: number;
  /** Start of the current window (ms), as Postgres last returned it or as first seen here. */
  windowStart: number;
}

/** Takes a count Postgres returned: a newer window replaces the known count; within one window it only grows. */
function learn(e: Entry, count: number, windowStart: Date): void {
  const start = windowStart.getTime();
  e.known = start > e.windowStart ? count : Math.max(e.known, count);
  // Postgres's window start is the true one (another process may have opened the window earlier).
  e.windowStart = start;
}

export class BatchedCounters {
  #entries = new Map<string, Entry>();
  /** Recent reads for checkRateLimit's maxAgeMs (client-credential failure counts, read on every token request). */
  #reads = new Map<string, { row: CounterRow | undefined; until: number }>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log?: Pick<Logger, 'warn'>,
  ) {}

  /**
   * Counts one hit on `key` and returns the count to decide on (count > limit: refuse) with the
   * window's start. Only a hit near the limit waits for Postgres.
   */
  async hit(key: string, limit: number, windowSeconds: number, now: Date): Promise<{ count: number; windowStart: Date }> {
    const t = now.getTime();
    let e = this.#entries.get(key);
    if (!e || e.windowSeconds !== windowSeconds) {
      e = { windowSeconds, known: 0, pending: 0, inflight: 0, windowStart: t };
      this.#entries.set(key, e);
    } else if (e.windowStart + windowSeconds * 1000 <= t) {
      // The window has passed: Postgres restarts it on the next increment (its row is as old).
      e.known = 0;
      e.inflight = 0;
      e.windowStart = t;
    }
    const estimate = e.known + e.inflight + e.pending + 1;
    if (estimate <= limit) {
      e.pending++;
      this.#schedule();
      return { count: estimate, windowStart: new Date(e.windowStart) };
    }
    // At or past the limit: this hit and whatever is pending for the key, now; Postgres decides.
    const by = e.pending + 1;
    e.pending = 0;
    try {
      const [row] = await incrementCounters(this.db, [{ key, by }], now, windowSeconds);
      // A flush still in flight may have reached the row before or after this statement.
      learn(e, row!.count - e.inflight, row!.windowStart);
      return { count: row!.count, windowStart: row!.windowStart };
    } catch (err) {
      e.pending += by - 1;
      throw err;
    }
  }

  /**
   * A counter as read at most `maxAgeMs` ago (real time) by this process, else `load()`. A counter this
   * process changes is forgotten at once (forget), so only other processes' changes can be late.
   */
  async read(key: string, maxAgeMs: number, load: () => Promise<CounterRow | undefined>): Promise<CounterRow | undefined> {
    const now = performance.now();
    const hit = this.#reads.get(key);
    if (hit && hit.until > now) return hit.row;
    const row = await load();
    if (this.#reads.size >= MAX_READS) this.#reads.clear();
    this.#reads.set(key, { row, until: now + maxAgeMs });
    return row;
  }

  forget(key: string): void {
    this.#reads.delete(key);
  }

  /** Sends every pending count (one statement per window length). Runs every FLUSH_INTERVAL_MS while hits are pending. */
  async flush(now = this.clock.now()): Promise<void> {
    while (this.#flushing) await this.#flushing;
    this.#flushing = this.#flushOnce(now).finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #flushOnce(now: Date): Promise<void> {
    const byWindow = new Map<number, { key: string; by: number; e: Entry }[]>();
    for (const [key, e] of this.#entries) {
      if (e.pending === 0) {
        // Idle and its window over: forget it (Postgres keeps the row until the prune job).
        if (e.inflight === 0 && e.windowStart + e.windowSeconds * 1000 <= now.getTime()) this.#entries.delete(key);
        continue;
      }
      const list = byWindow.get(e.windowSeconds) ?? [];
      list.push({ key, by: e.pending, e });
      e.inflight += e.pending;
      e.pending = 0;
      byWindow.set(e.windowSeconds, list);
    }
    for (const [windowSeconds, all] of byWindow) {
      // Postgres takes at most 65,535 parameters a statement (two a key): flush in chunks.
      for (let i = 0; i < all.length; i += FLUSH_CHUNK) await this.#send(all.slice(i, i + FLUSH_CHUNK), windowSeconds, now);
    }
  }

  async #send(hits: { key: string; by: number; e: Entry }[], windowSeconds: number, now: Date): Promise<void> {
    try {
      const rows = await incrementCounters(
        this.db,
        hits.map(({ key, by }) => ({ key, by })),
        now,
        windowSeconds,
      );
      const byKey = new Map(rows.map((r) => [r.key, r]));
      for (const { key, by, e } of hits) {
        const row = byKey.get(key);
        e.inflight = Math.max(0, e.inflight - by);
        if (row) learn(e, row.count, row.windowStart);
      }
    } catch (err) {
      // Keep the counts for the next flush; a rate limit must not fail requests on a flush error.
      for (const { by, e } of hits) {
        e.inflight = Math.max(0, e.inflight - by);
        e.pending += by;
      }
      this.log?.warn({ event: 'rate_limit.flush_failed', err }, 'could not flush rate-limit counters; will retry');
    }
  }

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush().then(() => {
        for (const e of this.#entries.values()) if (e.pending > 0) return this.#schedule();
      });
    }, FLUSH_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Flushes what is pending and stops the timer (shutdown: before the pool closes). */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
