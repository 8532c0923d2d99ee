import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildManagementApp, registryMetrics } from '../../src/management.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';
import { onPostgres } from '../helpers/db.js';

let ctx: TestContext;
/** The management listener's app (src/management.ts) over the same deps, as main.ts builds it. */
let management: Awaited<ReturnType<typeof buildManagementApp>>;
beforeAll(async () => {
  ctx = await createTestContext({ env: { KEYMASTER_REFRESH_REUSE_INTERVAL: '0' } });
  const { config, log, probeDatabase } = ctx.deps;
  management = await buildManagementApp({ config, log, probeDatabase, metrics: registryMetrics(ctx.deps.metrics) });
});
afterAll(async () => {
  await management.close();
  await ctx.close();
});

/** The value of one series in Prometheus text format, e.g. metric('x_total{route="/a"}'). */
function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(): Promise<string> {
  const res = await management.inject({ url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.body;
}

describe('GET /metrics', () => {
  it('counts requests and latency by route pattern, never by raw URL', async () => {
    const { app } = await makeApp(ctx.deps);
    for (let i = 0; i < 3; i++) expect((await ctx.app.inject({ url: '/.well-known/jwks.json' })).statusCode).toBe(200);
    await ctx.app.inject({ url: `/login?app_id=${app.appId}&redirect_uri=https%3A%2F%2Fevil.example%2F` });
    await ctx.app.inject({ url: '/no/such/page/12345' });
    const text = await scrape();
    expect(metric(text, 'keymaster_http_requests_total{method="GET",route="/.well-known/jwks.json",status="200"}')).toBe(3);
    expect(metric(text, 'keymaster_http_requests_total{method="GET",route="/login",status="400"}')).toBe(1);
    expect(metric(text, 'keymaster_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(metric(text, 'keymaster_http_request_duration_seconds_count{method="GET",route="/.well-known/jwks.json"}')).toBe(3);
    expect(text).not.toContain('12345');
    expect(text).not.toContain(app.appId);
  });

  it('counts tokens issued, refresh replays, sign-in failures and lockouts from the domain', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const { issueTokens, rotateRefreshToken } = await import('../../src/domain/tokens/refresh-tokens.js');
    const { authenticatePassword } = await import('../../src/domain/users/users.js');
    const before = await scrape();
    const set = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    await rotateRefreshToken(ctx.deps, { refreshToken: set.refreshToken, appId: app.appId });
    await expect(rotateRefreshToken(ctx.deps, { refreshToken: set.refreshToken, appId: app.appId })).rejects.toThrow();
    await expect(authenticatePassword(ctx.deps, { email: user.email, password: 'wrong-password' })).rejects.toThrow();
    const after = await scrape();
    const delta = (s: string) => (metric(after, s) ?? 0) - (metric(before, s) ?? 0);
    expect(delta('keymaster_tokens_issued_total{kind="access"}')).toBe(2);
    expect(delta('keymaster_refresh_token_replays_total')).toBe(1);
    expect(delta('keymaster_sign_in_failures_total{reason="bad_password"}')).toBe(1);
    // The replay is also in the audit trail, which the counter mirrors.
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .select('event')
      .where('user_id', '=', user.id)
      .where('event', '=', 'refresh_token.replay')
      .execute();
    expect(audit).toHaveLength(1);
  });

  it('counts a lockout once, when the threshold is reached', async () => {
    const { user } = await makeUser(ctx.deps);
    const { authenticatePassword } = await import('../../src/domain/users/users.js');
    const before = metric(await scrape(), 'keymaster_lockouts_total') ?? 0;
    // The per-email rate limit (5 failures) refuses before the lockout threshold (10) is reached, so
    // move the account to one failure short of the threshold directly.
    await ctx.deps.db
      .updateTable('users')
      .set({ failed_logins: ctx.deps.config.lockoutThreshold - 1 })
      .where('id', '=', user.id)
      .execute();
    await expect(authenticatePassword(ctx.deps, { email: user.email, password: 'wrong-password' })).rejects.toThrow();
    const row = await ctx.deps.db.selectFrom('users').select('locked_until').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.locked_until).not.toBeNull();
    expect((metric(await scrape(), 'keymaster_lockouts_total') ?? 0) - before).toBe(1);
  });

  it('reports the database pool on Postgres', async () => {
    const text = await scrape();
    if (onPostgres()) expect(metric(text, 'keymaster_db_pool_connections{state="total"}')).toBeGreaterThanOrEqual(1);
    else expect(text).not.toContain('keymaster_db_pool_connections{');
  });
});

describe('where /metrics and health are served', () => {
  it('the public port answers 404 for /metrics unless KEYMASTER_METRICS_TOKEN is set; health stays on both ports', async () => {
    const res = await ctx.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('keymaster_');
    for (const url of ['/healthz', '/readyz']) {
      expect((await ctx.app.inject({ url })).json()).toEqual({ status: 'ok' });
      expect((await management.inject({ url })).json()).toEqual({ status: 'ok' });
    }
    // Without the token the management listener needs none (it is reached on its own address only).
    expect((await management.inject({ url: '/metrics' })).statusCode).toBe(200);
  });
});

describe('GET /metrics with KEYMASTER_METRICS_TOKEN', () => {
  it('requires the bearer token', async () => {
    const t = await createTestContext({ env: { KEYMASTER_METRICS_TOKEN: 'metrics-token-0123456789' } });
    try {
      expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(401);
      expect((await t.app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode).toBe(401);
      const ok = await t.app.inject({ url: '/metrics', headers: { authorization: 'Bearer metrics-token-0123456789' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('keymaster_http_requests_total');
    } finally {
      await t.close();
    }
  });
});
