// Password hashing: argon2id at OWASP's minimum (m=19 MiB, t=2, p=1) or stronger. argon2 runs on the
// libuv pool, off the event loop. Unknown emails still cost one verification (against a dummy hash)
// so response time does not reveal whether an account exists.
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { createLimiter } from '../../lib/limiter.js';

export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
/** Longer inputs are refused before argon2 runs (a 1 MB "password" is a CPU attack, not a password). */
export const MAX_PASSWORD_BYTES = 1024;

/**
 * argon2 runs on the libuv pool (4 threads by default). Unbounded, a sign-in flood fills every thread
 * with argon2 jobs (tens of ms each), and whatever else needs the pool (DNS lookups, file reads, async
 * crypto) waits behind them. Capped at one less than the pool, and at the cores this process may use:
 * more adds no throughput there, and costs some (concurrent verifications' 19 MiB buffers evict each
 * other from the cache; docs/PERFORMANCE.md has the figures). Per process, like the pool. (RS256 signing no longer uses the pool: node:crypto signs synchronously.)
 */
const argon2Slots = createLimiter(Math.max(1, Math.min(availableParallelism(), 3)));

/** argon2 hashes and verifications this process has run: tests prove a refused request ran none. */
export const argon2Jobs = (): number => argon2Slots.started;

export function hashPassword(password: string): Promise<string> {
  return argon2Slots.run(() => argon2.hash(password, ARGON2_OPTIONS));
}

let dummyHash: Promise<string> | undefined;

/** Verifies `password` against `hash`, or against a dummy hash when there is no user, so both cost the same. */
export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  dummyHash ??= hashPassword('keymaster-dummy-password');
  const target = hash ?? (await dummyHash);
  try {
    const ok = await argon2Slots.run(() => argon2.verify(target, password));
    return ok && hash != null;
  } catch {
    return false;
  }
}

export function needsRehash(hash: string): boolean {
  return argon2.needsRehash(hash, ARGON2_OPTIONS);
}
