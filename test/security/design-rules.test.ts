// DESIGN.md §4 rules 1-5 and 9 (storage, randomness, argon2, exact redirects, refresh replay,
// lockout), each asserted on the rows, so docs/SECURITY.md can point at a test for every rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { countAllRows, signInThroughForm } from '../helpers/security.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { KEYMASTER_RATE_LIMIT_SCALE: '1000', KEYMASTER_REFRESH_REUSE_INTERVAL: '0' } });
});
afterAll(() => ctx.close());

async function allText(): Promise<string> {
  const out: unknown[] = [];
  for (const t of ['apps', 'users', 'sessions', 'refresh_tokens', 'signing_keys', 'audit_events', 'rate_limits'] as const) {
    out.push(await ctx.deps.db.selectFrom(t).selectAll().execute());
  }
  return JSON.stringify(out);
}

describe('§4.1-4.3 secrets at rest', () => {
  it('tokens, cookie ids and client secrets are stored only as SHA-256 hashes; keys encrypted; passwords argon2id m=19456,t=2,p=1', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password);
    // ≥ 32 random bytes (64 hex) for every opaque secret.
    for (const v of [clientSecret, r.refreshToken!, r.cookies.km_sso!]) expect(v).toMatch(/^[0-9a-f]{64,}$/);
    const dump = await allText();
    for (const v of [clientSecret, r.refreshToken!, r.cookies.km_sso!, password, r.accessToken!]) expect(dump).not.toContain(v);
    expect(dump).toContain(sha256(r.refreshToken!));
    expect(dump).toContain(sha256(r.cookies.km_sso!));
    expect(dump).not.toMatch(/BEGIN (RSA )?PRIVATE KEY/);
    const row = await ctx.deps.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});

describe('§4.4 redirect URIs match exactly', () => {
  for (const uri of [
    `${DEFAULT_REDIRECT}/`,
    `${DEFAULT_REDIRECT}?x=1`,
    `${DEFAULT_REDIRECT}#x`,
    DEFAULT_REDIRECT.toUpperCase(),
    DEFAULT_REDIRECT.replace('https', 'http'),
    `${DEFAULT_REDIRECT}/../../evil`,
    'https://app.example.com.evil.example/callback',
  ]) {
    it(`${uri} → error page, never a redirect`, async () => {
      const { app } = await makeApp(ctx.deps);
      const res = await ctx.app.inject({ url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(uri)}` });
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/text\/html/);
    });
  }
});

describe('§4.5 refresh replay', () => {
  it('a rotated token presented again revokes the family, records an audit event and answers invalid_grant', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password);
    const first = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: r.refreshToken, app_id: app.appId },
    });
    expect(first.statusCode).toBe(200);
    const child = first.json().refresh_token as string;
    const replay = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: r.refreshToken, app_id: app.appId },
    });
    expect(replay.statusCode).toBeGreaterThanOrEqual(400);
    expect(replay.json().error).toBe('invalid_grant');
    const childRow = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('token_hash', '=', sha256(child))
      .executeTakeFirstOrThrow();
    expect(childRow.revoked_at).not.toBeNull();
    const events = await ctx.deps.db.selectFrom('audit_events').select('event').where('user_id', '=', user.id).execute();
    expect(events.map((e) => e.event)).toContain('refresh_token.replay');
    expect(
      (await ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: child, app_id: app.appId } })).statusCode,
    ).toBeGreaterThanOrEqual(400);
  });
});

describe('§4.9 lockout', () => {
  it('10 consecutive failures lock the account: then even the right password gets "Account is locked", and nothing else changes', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    for (let i = 0; i < 10; i++) expect((await signInThroughForm(ctx, app.appId, user.email, `wrong-${i}`)).post.statusCode).toBe(401);
    const row = await ctx.deps.db
      .selectFrom('users')
      .select(['locked_until', 'failed_logins'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.locked_until).not.toBeNull();
    const before = await countAllRows(ctx.deps.db);
    const res = await signInThroughForm(ctx, app.appId, user.email, password);
    expect(res.post.statusCode).toBe(403);
    expect(res.post.body).toContain('Account is locked');
    expect(res.cookies.km_sso).toBeUndefined();
    expect((await countAllRows(ctx.deps.db)).sessions).toBe(before.sessions);
  });
});
