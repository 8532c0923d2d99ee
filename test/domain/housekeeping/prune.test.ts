import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectTableStats, pruneExpired } from '../../../src/domain/housekeeping/prune.js';
import { decodeJwt } from 'jose';
import { accessTokenRefusal, type LivenessClaims } from '../../../src/domain/tokens/liveness.js';
import { issueTokens, revokeRefreshToken } from '../../../src/domain/tokens/refresh-tokens.js';
import { DAY, MINUTE, type FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser, member } from '../../helpers/factories.js';

let ctx: TestContext;
let clock: FixedClock;
beforeAll(async () => {
  // Refresh tokens live 30 days; rows are kept 7 days after they expired or were revoked.
  ctx = await createTestContext({ clock: 'fixed', env: { KEYMASTER_REFRESH_TOKEN_TTL_DAYS: '30', KEYMASTER_PRUNE_RETENTION_DAYS: '7' } });
  clock = ctx.clock as FixedClock;
});
afterAll(() => ctx.close());

const count = async (table: 'refresh_tokens' | 'sessions' | 'rate_limits') =>
  Number(
    (
      await ctx.deps.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

async function seed() {
  const { app } = await makeApp(ctx.deps);
  const { user } = await makeUser(ctx.deps);
  const start = clock.now();
  // 25 tokens that will be long expired, 3 revoked long ago, then (38 days later) 4 live ones and
  // 2 that expired only 1 day ago (still within retention).
  for (let i = 0; i < 25; i++) await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
  for (let i = 0; i < 3; i++) {
    const t = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    await revokeRefreshToken(ctx.deps, { refreshToken: t.refreshToken });
  }
  clock.advance(8 * DAY);
  for (let i = 0; i < 2; i++) await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
  clock.advance(30 * DAY);
  const liveTokens = [];
  for (let i = 0; i < 4; i++) liveTokens.push(await issueTokens(ctx.deps, await member(ctx.deps, user, app), app));
  const now = clock.now();
  const sessions = [
    { expires_at: new Date(start.getTime() + DAY), revoked_at: null }, // expired 37 days ago: goes
    { expires_at: new Date(now.getTime() - DAY), revoked_at: null }, // within retention: stays
    { expires_at: new Date(now.getTime() + DAY), revoked_at: null }, // live: stays
    { expires_at: new Date(now.getTime() + DAY), revoked_at: start }, // revoked long ago: goes
  ];
  for (const [i, s] of sessions.entries()) {
    await ctx.deps.db
      .insertInto('sessions')
      .values({ token_hash: `h-${i}-${Math.random()}`, user_id: user.id, auth_time: start, created_at: start, ...s })
      .execute();
  }
  await ctx.deps.db
    .insertInto('rate_limits')
    .values([
      { key: `old:${now.getTime()}`, window_start: new Date(now.getTime() - 2 * DAY), count: 3 },
      { key: `current:${now.getTime()}`, window_start: now, count: 1 },
    ])
    .execute();
  return { liveTokens };
}

describe('pruneExpired', () => {
  it('deletes only rows expired or revoked before the retention cutoff, in batches', async () => {
    await seed();
    expect(await count('refresh_tokens')).toBe(34);
    const results = await pruneExpired(ctx.deps, { batchSize: 10 });
    const by = Object.fromEntries(results.map((r) => [r.name, r]));
    expect(by.refresh_tokens).toMatchObject({ affected: 28, batches: 3 });
    expect(by.sessions).toMatchObject({ affected: 2, batches: 1 });
    expect(by.rate_limits).toMatchObject({ affected: 1, batches: 1 });
    expect(await count('refresh_tokens')).toBe(6);
    expect(await count('sessions')).toBe(2);
    expect(await count('rate_limits')).toBe(1);
    const left = await ctx.deps.db.selectFrom('refresh_tokens').select(['expires_at', 'revoked_at']).execute();
    const cutoff = clock.now().getTime() - 7 * DAY;
    expect(left.every((r) => r.expires_at.getTime() >= cutoff && !r.revoked_at)).toBe(true);
    // Nothing left to do: a second run deletes nothing.
    expect((await pruneExpired(ctx.deps, { batchSize: 10 })).every((r) => r.affected === 0)).toBe(true);
  });

  it('runs on several connections at once without doing the same work twice', async () => {
    await seed();
    // This seed's 28 plus the previous test's 6 survivors, which are now long expired too.
    const expected = 34;
    // Four concurrent runs (on Postgres each batch uses its own pool connection; SKIP LOCKED splits them).
    const runs = await Promise.all([1, 2, 3, 4].map(() => pruneExpired(ctx.deps, { batchSize: 5 })));
    const deleted = runs.map((r) => r.find((x) => x.name === 'refresh_tokens')!.affected);
    expect(deleted.reduce((a, b) => a + b, 0)).toBe(expected);
    expect(await count('refresh_tokens')).toBe(6);
  });

  it('keymaster stats reports every table with its row count and size', async () => {
    const stats = await collectTableStats(ctx.deps);
    const byTable = Object.fromEntries(stats.map((s) => [s.table, s]));
    expect(byTable.refresh_tokens!.rows).toBe(await count('refresh_tokens'));
    expect(byTable.refresh_tokens!.bytes).toBeGreaterThan(0);
    expect(Object.keys(byTable)).toEqual(
      expect.arrayContaining(['apps', 'users', 'signing_keys', 'sessions', 'audit_events', 'rate_limits']),
    );
  });
});

describe('pruneExpired keeps what access-token liveness reads', () => {
  it('with KEYMASTER_PRUNE_RETENTION_DAYS=0, a revoked family stays (its access token refused) until no token it refuses can be unexpired', async () => {
    const c = await createTestContext({ clock: 'fixed', env: { KEYMASTER_PRUNE_RETENTION_DAYS: '0' } });
    try {
      const { app } = await makeApp(c.deps);
      const { user } = await makeUser(c.deps);
      const t = await issueTokens(c.deps, await member(c.deps, user, app), app);
      await revokeRefreshToken(c.deps, { refreshToken: t.refreshToken });
      (c.clock as FixedClock).advance(MINUTE);
      await pruneExpired(c.deps);
      const rows = () => c.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', user.id).execute();
      expect(await rows()).toHaveLength(1);
      c.deps.liveness.invalidate(user.id);
      expect(await accessTokenRefusal(c.deps, decodeJwt(t.accessToken) as LivenessClaims)).toBe('grant_ended');
      // A day on (the longest access-token lifetime), the row goes.
      (c.clock as FixedClock).advance(DAY);
      await pruneExpired(c.deps);
      expect(await rows()).toHaveLength(0);
    } finally {
      await c.close();
    }
  });
});
