// DESIGN.md §4.9: per-IP and per-account limits kept in Postgres, 429 + Retry-After in each route's own
// error format, shared by every process on the database, and configurable from the environment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createDeps } from '../../src/deps.js';
import { effectiveRule, RULES } from '../../src/domain/rate-limits/rate-limits.js';
import { sha256 } from '../../src/lib/crypto.js';
import type { FixedClock } from '../../src/lib/clock.js';
import { openPostgres } from '../../src/storage/db.js';
import { createTestContext, TEST_SECRET, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, form, FORM } from '../helpers/http.js';
import { openLoginPage, signInThroughForm } from '../helpers/security.js';

const ENV = {
  KEYMASTER_RATE_LIMIT_LOGIN_ATTEMPTS_IP: '4/60',
  KEYMASTER_RATE_LIMIT_LOGIN_FAILURES_IP: '3/900',
  KEYMASTER_RATE_LIMIT_TOKEN_REFRESH_IP: '2/60',
  KEYMASTER_RATE_LIMIT_TOKEN_REVOKE_IP: '2/60',
  KEYMASTER_RATE_LIMIT_PAR_IP: '2/60',
};

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed', env: ENV });
});
afterAll(() => ctx.close());
const clock = () => ctx.clock as FixedClock;
let ipSeq = 0;
const freshIp = () => `10.9.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;

async function postLogin(appId: string, email: string, password: string, ip: string) {
  const page = await openLoginPage(ctx, appId);
  return ctx.app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress: ip,
    headers: { ...FORM, cookie: cookieHeader(page.cookies) },
    payload: form({ _csrf: page.csrf, app_id: appId, redirect_uri: DEFAULT_REDIRECT, email, password }),
  });
}

describe('POST /login', () => {
  it('per-IP attempts: the 5th POST in a minute is 429 with Retry-After on the HTML page; other IPs are unaffected; the window passes', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const ip = freshIp();
    for (let i = 0; i < 4; i++) expect((await postLogin(app.appId, user.email, password, ip)).statusCode).toBe(303);
    const limited = await postLogin(app.appId, user.email, password, ip);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.headers['content-type']).toMatch(/text\/html/);
    // Never a dead end: how long, and the way back to this app's sign-in page.
    expect(limited.body).toContain('Too many attempts. Try again in 1 minute.');
    const back = /href="([^"]+)">Back to sign in</.exec(limited.body)?.[1]?.replaceAll('&amp;', '&');
    expect(back).toBe(`/login?${new URLSearchParams({ app_id: app.appId, redirect_uri: DEFAULT_REDIRECT }).toString()}`);
    expect(limited.cookies.find((c) => c.name === 'km_sso')).toBeUndefined();
    expect((await postLogin(app.appId, user.email, password, freshIp())).statusCode).toBe(303);
    clock().advance(61_000);
    expect((await postLogin(app.appId, user.email, password, ip)).statusCode).toBe(303);
  });

  it('per-IP failures slow a spray across many accounts: after 3 failures from one IP even a right password waits', async () => {
    const { app } = await makeApp(ctx.deps);
    const ip = freshIp();
    for (let i = 0; i < 3; i++) {
      const { user } = await makeUser(ctx.deps);
      expect((await postLogin(app.appId, user.email, 'wrong-password', ip)).statusCode).toBe(401);
    }
    const { user, password } = await makeUser(ctx.deps);
    const res = await postLogin(app.appId, user.email, password, ip);
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    // The victim is not locked out: from another address they sign in at once.
    expect((await postLogin(app.appId, user.email, password, freshIp())).statusCode).toBe(303);
    const row = await ctx.deps.db
      .selectFrom('rate_limits')
      .selectAll()
      .where('key', '=', `login_failures_ip:${ip}`)
      .executeTakeFirstOrThrow();
    expect(row.count).toBe(3);
  });

  it('per-account failures (5 per 15 min per email, from any IP) → 429 before argon2; the key is the hashed email', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    for (let i = 0; i < 5; i++) expect((await postLogin(app.appId, user.email, `wrong-${i}`, freshIp())).statusCode).toBe(401);
    const res = await postLogin(app.appId, user.email, password, freshIp());
    expect(res.statusCode).toBe(429);
    const rows = await ctx.deps.db.selectFrom('rate_limits').select('key').where('key', 'like', 'login_failures_email:%').execute();
    expect(rows.map((r) => r.key)).toContain(`login_failures_email:${sha256(user.email.toLowerCase())}`);
    expect(rows.some((r) => r.key.includes('@'))).toBe(false);
    // The way out: the window passes (password reset will also clear it once that issue lands).
    clock().advance(15 * 60_000 + 1000);
    expect((await postLogin(app.appId, user.email, password, freshIp())).statusCode).toBe(303);
  });

  it('a successful sign-in clears the per-account failure count (and a sign-in with none writes nothing)', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const key = `login_failures_email:${sha256(user.email.toLowerCase())}`;
    const counter = () => ctx.deps.db.selectFrom('rate_limits').select('count').where('key', '=', key).executeTakeFirst();
    expect((await postLogin(app.appId, user.email, password, freshIp())).statusCode).toBe(303);
    expect(await counter()).toBeUndefined();
    for (let i = 0; i < 4; i++) expect((await postLogin(app.appId, user.email, `wrong-${i}`, freshIp())).statusCode).toBe(401);
    expect((await counter())?.count).toBe(4);
    expect((await postLogin(app.appId, user.email, password, freshIp())).statusCode).toBe(303);
    expect(await counter()).toBeUndefined();
    // Five more failures are needed for the 429 again.
    for (let i = 0; i < 5; i++) expect((await postLogin(app.appId, user.email, `again-${i}`, freshIp())).statusCode).toBe(401);
    expect((await postLogin(app.appId, user.email, password, freshIp())).statusCode).toBe(429);
  });
});

describe('token endpoints', () => {
  it('/token/refresh: per-IP, 429 JSON {error:"too_many_requests", retry_after} + Retry-After; the refused call rotates nothing', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const ip = freshIp();
    let rt = (await signInThroughForm(ctx, app.appId, user.email, password)).refreshToken!;
    for (let i = 0; i < 2; i++) {
      const r = await ctx.app.inject({
        method: 'POST',
        url: '/token/refresh',
        remoteAddress: ip,
        payload: { refresh_token: rt, app_id: app.appId },
      });
      expect(r.statusCode).toBe(200);
      rt = r.json().refresh_token;
    }
    const limited = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      remoteAddress: ip,
      payload: { refresh_token: rt, app_id: app.appId },
    });
    expect(limited.statusCode).toBe(429);
    const body = limited.json();
    expect(body.error).toBe('too_many_requests');
    expect(body.retry_after).toBe(Number(limited.headers['retry-after']));
    const row = await ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', sha256(rt)).executeTakeFirstOrThrow();
    expect(row.revoked_at ?? null).toBeNull();
    // The same token still works from elsewhere: nothing was spent.
    expect(
      (
        await ctx.app.inject({
          method: 'POST',
          url: '/token/refresh',
          remoteAddress: freshIp(),
          payload: { refresh_token: rt, app_id: app.appId },
        })
      ).statusCode,
    ).toBe(200);
  });

  it('/token/revoke: per-IP 429', async () => {
    const ip = freshIp();
    for (let i = 0; i < 2; i++) {
      expect(
        (await ctx.app.inject({ method: 'POST', url: '/token/revoke', remoteAddress: ip, payload: { refresh_token: 'f'.repeat(64) } }))
          .statusCode,
      ).toBe(200);
    }
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/token/revoke',
      remoteAddress: ip,
      payload: { refresh_token: 'f'.repeat(64) },
    });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ error: 'too_many_requests' });
  });
});

describe('POST /par', () => {
  it('per-IP 429 in the RFC 6749 §5.2 shape; the refused request stores nothing', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const ip = freshIp();
    const push = () =>
      ctx.app.inject({
        method: 'POST',
        url: '/par',
        remoteAddress: ip,
        headers: { ...FORM, authorization: `Basic ${Buffer.from(`${app.appId}:${clientSecret}`).toString('base64')}` },
        payload: form({ response_type: 'code', redirect_uri: DEFAULT_REDIRECT, scope: 'openid' }),
      });
    for (let i = 0; i < 2; i++) expect((await push()).statusCode).toBe(201);
    const res = await push();
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json()).toMatchObject({ error: 'too_many_requests' });
    const rows = await ctx.deps.db.selectFrom('pushed_authorization_requests').selectAll().where('app_id', '=', app.appId).execute();
    expect(rows).toHaveLength(2);
  });
});

describe('correct across processes', () => {
  it('two app instances on one database share one counter', async () => {
    // A second createDeps + buildApp: on Postgres a separate connection pool to the same database,
    // on PGlite the same embedded database (one process can hold it).
    const handle = ctx.database.url ? openPostgres(ctx.database.url, 2) : { ...ctx.database, close: async () => {} };
    const deps2 = await createDeps(ctx.deps.config, { database: handle, clock: ctx.clock, log: ctx.deps.log, migrate: false });
    const app2 = await buildApp(deps2);
    try {
      const ip = freshIp();
      const revoke = (a: typeof ctx.app) =>
        a.inject({ method: 'POST', url: '/token/revoke', remoteAddress: ip, payload: { refresh_token: 'e'.repeat(64) } });
      expect((await revoke(ctx.app)).statusCode).toBe(200);
      expect((await revoke(app2)).statusCode).toBe(200);
      expect((await revoke(ctx.app)).statusCode).toBe(429);
      expect((await revoke(app2)).statusCode).toBe(429);
      const row = await ctx.deps.db
        .selectFrom('rate_limits')
        .selectAll()
        .where('key', '=', `token_revoke_ip:${ip}`)
        .executeTakeFirstOrThrow();
      expect(row.count).toBe(4);
    } finally {
      await app2.close();
      await deps2.close();
    }
  });

  it('concurrent hits from both instances are all counted (the upsert decides, not process memory)', async () => {
    const handle = ctx.database.url ? openPostgres(ctx.database.url, 4) : { ...ctx.database, close: async () => {} };
    const deps2 = await createDeps(ctx.deps.config, { database: handle, clock: ctx.clock, log: ctx.deps.log, migrate: false });
    const app2 = await buildApp(deps2);
    try {
      const ip = freshIp();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? app2 : ctx.app).inject({
            method: 'POST',
            url: '/token/revoke',
            remoteAddress: ip,
            payload: { refresh_token: 'd'.repeat(64) },
          }),
        ),
      );
      expect(results.filter((r) => r.statusCode === 200)).toHaveLength(2);
      expect(results.filter((r) => r.statusCode === 429)).toHaveLength(8);
      const row = await ctx.deps.db
        .selectFrom('rate_limits')
        .selectAll()
        .where('key', '=', `token_revoke_ip:${ip}`)
        .executeTakeFirstOrThrow();
      expect(row.count).toBe(10);
    } finally {
      await app2.close();
      await deps2.close();
    }
  });
});

describe('configuration', () => {
  const base = { KEYMASTER_SECRET: TEST_SECRET };
  it('defaults are the documented limits; env overrides by rule name; the scale multiplies', () => {
    const plain = loadConfig(base);
    expect(effectiveRule({ config: plain }, RULES.loginFailuresPerEmail)).toMatchObject({ limit: 5, windowSeconds: 900 });
    expect(effectiveRule({ config: plain }, RULES.loginFailuresPerIp)).toMatchObject({ limit: 20, windowSeconds: 900 });
    const tuned = loadConfig({ ...base, KEYMASTER_RATE_LIMIT_LOGIN_FAILURES_IP: '50/60', KEYMASTER_RATE_LIMIT_SCALE: '10' });
    expect(effectiveRule({ config: tuned }, RULES.loginFailuresPerIp)).toMatchObject({ limit: 500, windowSeconds: 60 });
    expect(effectiveRule({ config: tuned }, RULES.loginFailuresPerEmail)).toMatchObject({ limit: 50, windowSeconds: 900 });
  });
  it('a malformed override is a start-up error naming the variable', () => {
    expect(() => loadConfig({ ...base, KEYMASTER_RATE_LIMIT_TOKEN_REFRESH_IP: 'lots' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, KEYMASTER_RATE_LIMIT_TOKEN_REFRESH_IP: '0' })).toThrow(/KEYMASTER_RATE_LIMIT_TOKEN_REFRESH_IP/);
  });
});
