// Batched counters for the high-volume rate-limit rules: far below the limit a process counts in
// memory and flushes; at the limit Postgres decides; several processes share one count.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_MIN_LIMIT, BatchedCounters } from '../../../src/domain/rate-limits/batched-counters.js';
import { readCounter } from '../../../src/domain/rate-limits/rate-limit-store.js';
import { consumeRateLimit, type RateLimitRule } from '../../../src/domain/rate-limits/rate-limits.js';
import type { FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

const rule = (limit = BATCH_MIN_LIMIT): RateLimitRule => ({ name: `batched_${randomUUID().slice(0, 8)}`, limit, windowSeconds: 60 });
const row = (r: RateLimitRule, subject: string) => readCounter(ctx.deps.db, `${r.name}:${subject}`);
/** A second process: its own counters in memory, the same Postgres. */
const otherProcess = () => ({ ...ctx.deps, rateCounters: new BatchedCounters(ctx.deps.db, ctx.clock) });

async function hits(deps: Parameters<typeof consumeRateLimit>[0], r: RateLimitRule, subject: string, n: number) {
  for (let i = 0; i < n; i++) await consumeRateLimit(deps, r, subject);
}

describe('batched rate-limit counters', () => {
  it('counts in memory far below the limit and writes the sum on flush', async () => {
    const r = rule();
    await hits(ctx.deps, r, '203.0.113.1', 10);
    expect(await row(r, '203.0.113.1')).toBeUndefined();
    await ctx.deps.rateCounters.flush();
    expect((await row(r, '203.0.113.1'))?.count).toBe(10);
  });

  it('lets exactly `limit` through in one process and refuses the next with 429 and retry_after', async () => {
    const r = rule();
    await hits(ctx.deps, r, '203.0.113.2', r.limit);
    await expect(consumeRateLimit(ctx.deps, r, '203.0.113.2')).rejects.toMatchObject({ code: 'rate_limited', retryAfter: 60 });
    // The refused hit and everything pending went to Postgres at once.
    expect((await row(r, '203.0.113.2'))?.count).toBe(r.limit + 1);
  });

  it('flushes on its own timer', async () => {
    const r = rule();
    await hits(ctx.deps, r, '203.0.113.3', 3);
    await expect.poll(async () => (await row(r, '203.0.113.3'))?.count, { timeout: 5000 }).toBe(3);
  });

  it('two processes share one count: each learns the other’s hits from its flush', async () => {
    const r = rule();
    const a = otherProcess();
    const b = otherProcess();
    await hits(a, r, '203.0.113.4', 60);
    await a.rateCounters.flush();
    await hits(b, r, '203.0.113.4', 40);
    await b.rateCounters.flush();
    expect((await row(r, '203.0.113.4'))?.count).toBe(100);
    // b learnt the total from its flush: its next hit goes to Postgres and is refused.
    await expect(consumeRateLimit(b, r, '203.0.113.4')).rejects.toMatchObject({ code: 'rate_limited' });
    // a last saw 60: one more hit passes locally (the documented overshoot, at most a flush interval's
    // worth), and once a has flushed it is refused too.
    await consumeRateLimit(a, r, '203.0.113.4');
    await a.rateCounters.flush();
    await expect(consumeRateLimit(a, r, '203.0.113.4')).rejects.toMatchObject({ code: 'rate_limited' });
    expect((await row(r, '203.0.113.4'))?.count).toBe(103);
  });

  it('starts a new window once the old one has passed', async () => {
    const r = rule();
    await hits(ctx.deps, r, '203.0.113.5', r.limit);
    await expect(consumeRateLimit(ctx.deps, r, '203.0.113.5')).rejects.toMatchObject({ code: 'rate_limited' });
    (ctx.clock as FixedClock).advance(61_000);
    await consumeRateLimit(ctx.deps, r, '203.0.113.5');
    await ctx.deps.rateCounters.flush();
    expect((await row(r, '203.0.113.5'))?.count).toBe(1);
  });

  it('keeps small limits exact: every hit is written at once', async () => {
    const r = rule(BATCH_MIN_LIMIT - 1);
    await consumeRateLimit(ctx.deps, r, '203.0.113.6');
    expect((await row(r, '203.0.113.6'))?.count).toBe(1);
  });

  it('flushes many keys in chunks (Postgres takes at most 65,535 parameters a statement)', async () => {
    const r = rule();
    const a = otherProcess();
    // More keys than one statement could carry (two parameters each).
    const subjects = Array.from({ length: 33_000 }, (_, i) => `198.18.${Math.floor(i / 250)}.${i % 250}`);
    for (const s of subjects) await consumeRateLimit(a, r, s);
    await a.rateCounters.flush();
    const rows = await ctx.deps.db.selectFrom('rate_limits').select(['key', 'count']).where('key', 'like', `${r.name}:%`).execute();
    expect(rows).toHaveLength(33_000);
    expect(rows.every((row) => row.count === 1)).toBe(true);
  });

  it('flushes what is pending when it closes (shutdown)', async () => {
    const r = rule();
    const a = otherProcess();
    await hits(a, r, '203.0.113.7', 5);
    await a.rateCounters.close();
    expect((await row(r, '203.0.113.7'))?.count).toBe(5);
  });
});
