// `npm run demo` in real Chromium: the quick start's relying party signs in through the hosted page,
// shows the claims it verified with jose, refreshes (the refresh token rotates), and signs out through
// /sso/logout back to itself.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/demo/relying-party.js';
import { liveRefreshToken } from '../../src/domain/tokens/live.js';
import { freePort, startTestServer, type TestContext } from '../helpers/app.js';
import { launchChromium } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';

let ctx: TestContext;
let browser: Browser;
let demo: Awaited<ReturnType<typeof startDemo>>;
let appId: string;
beforeAll(async () => {
  ctx = await startTestServer();
  // The demo app registered as the quick start registers it, on a free port instead of 8080.
  const port = await freePort();
  const { app } = await makeApp(ctx.deps, {
    name: 'Demo App',
    redirectUris: [`http://localhost:${port}/auth/callback`],
    postLogoutRedirectUris: [`http://localhost:${port}/`],
  });
  appId = app.appId;
  demo = await startDemo({ appId, keymasterUrl: ctx.baseUrl, port });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await demo?.close();
  await ctx?.close();
});

const liveTokens = (userId: string) =>
  ctx.deps.db
    .selectFrom('refresh_tokens')
    .select('jti')
    .where('user_id', '=', userId)
    .where(liveRefreshToken('refresh_tokens', new Date()))
    .execute();

describe('npm run demo', () => {
  it('signs in, shows verified claims, refreshes with rotation, signs out and comes back', async () => {
    const { user, password } = await makeUser(ctx.deps, { name: 'Demo User' });

    const page = await browser.newPage();
    await page.goto(demo.url);
    await page.getByRole('link', { name: 'Sign in with Keymaster' }).click();
    await page.waitForURL(`${ctx.baseUrl}/login**`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(password);
    await Promise.all([page.waitForURL(`${demo.url}/`), page.getByRole('button', { name: 'Sign in' }).click()]);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Signed in as Demo User');
    const claims = () =>
      page
        .locator('pre')
        .textContent()
        .then((t) => JSON.parse(t ?? '{}') as Record<string, unknown>);
    const first = await claims();
    expect(first).toMatchObject({ sub: user.id, email: user.email, aud: appId, iss: ctx.baseUrl });

    await page.getByRole('button', { name: 'Refresh tokens' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('Refreshed');
    const second = await claims();
    expect(second.jti).not.toBe(first.jti);
    // The first refresh token was spent by the rotation: Keymaster holds exactly one live token of the family.
    expect(await liveTokens(user.id)).toHaveLength(1);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${ctx.baseUrl}/sso/logout**`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: /Continue/ }).click();
    await page.waitForURL(`${demo.url}/`);
    await expect(page.getByRole('link', { name: 'Sign in with Keymaster' }).isVisible()).resolves.toBe(true);
    expect(await liveTokens(user.id)).toEqual([]);
    await page.close();
  }, 120_000);

  it('refuses a callback it did not start (state checked)', async () => {
    const res = await fetch(`${demo.url}/auth/callback?state=forged&access_token=x&refresh_token=y`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('did not match');
  });
});
