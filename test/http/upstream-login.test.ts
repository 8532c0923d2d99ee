// Without KEYMASTER_GOOGLE_* the server never offers or starts Google sign-in, whatever an app enables.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp } from '../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('Google sign-in not configured', () => {
  it('hides the button and refuses /login/google with a 400 page, writing nothing', async () => {
    const { app } = await makeApp(ctx.deps, { providers: ['password', 'google'] });
    const q = `app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`;
    const page = await ctx.app.inject({ url: `/login?${q}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('Continue with Google');
    const start = await ctx.app.inject({ url: `/login/google?${q}` });
    expect(start.statusCode).toBe(400);
    expect(start.headers['content-type']).toMatch(/^text\/html/);
    expect(start.body).toContain('Sign-in with Google is not enabled for this app');
    expect(await ctx.deps.db.selectFrom('upstream_flows').select('id_hash').execute()).toHaveLength(0);
  });

  it('answers a callback without a flow with a 400 page, not a 500', async () => {
    const res = await ctx.app.inject({ url: '/login/google/callback?code=x&state=y' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('This sign-in attempt has expired or was already used');
  });

  it('refuses an unregistered redirect_uri before anything else', async () => {
    const { app } = await makeApp(ctx.deps, { providers: ['google'] });
    const res = await ctx.app.inject({
      url: `/login/google?app_id=${app.appId}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toContain('The redirect_uri is not registered for this app');
  });
});
