// The detours of the hosted sign-in in real headless Chromium (issue 16): from /login with the app's
// state, and from an OpenID Connect /authorize request (PKCE, nonce, state), through "Create account"
// or "Forgot password?" (and the real emails' links, over a real SMTP peer) and back. Each journey
// ends through the flow that started it: tokens with the state for /login, a code with the state for
// /authorize, and no access or refresh token in any URL the browser ever requested.
import type { Server } from 'node:http';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestContext } from '../helpers/app.js';
import { launchChromium, startAppCallbackServer } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { authorizeQuery, basicAuth, pkcePair } from '../helpers/oidc.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';

let ctx: TestContext;
let smtp: SmtpCapture;
let browser: Browser;
let appServer: Server;
let callback: string;
beforeAll(async () => {
  smtp = await startSmtpCapture();
  ctx = await startTestServer({ env: { SMTP_URL: smtp.url } });
  ({ server: appServer, callback } = await startAppCallbackServer());
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await ctx?.close();
  await smtp?.close();
  appServer?.close();
});

/** A fresh browser profile that records every URL it requests and every console error (CSP included). */
async function openPage(): Promise<{ page: Page; urls: string[]; errors: string[]; close: () => Promise<void> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const urls: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  return { page, urls, errors, close: () => context.close() };
}

async function signInOnPage(page: Page, email: string, password: string): Promise<URL> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Sign in' }).click()]);
  return new URL(page.url());
}

const noTokenInAnyUrl = (urls: string[]) => expect(urls.filter((u) => /[?&](access_token|refresh_token|id_token)=/.test(u))).toEqual([]);

describe('hosted sign-in detours in Chromium', () => {
  it('/login?state → Create account → back to sign in → tokens with the state', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Detour App', redirectUris: [callback] });
    const { user, password } = await makeUser(ctx.deps);
    const { page, errors, close } = await openPage();
    await page.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}&state=st-create`);
    await page.getByRole('link', { name: 'Create account' }).click();
    await page.waitForURL('**/account/register?**');
    await page.getByRole('link', { name: 'Already have an account? Sign in' }).click();
    await page.waitForURL('**/login?**');
    const landed = await signInOnPage(page, user.email, password);
    expect(landed.searchParams.get('state')).toBe('st-create');
    expect(landed.searchParams.get('access_token')).toMatch(/^ey/);
    expect(errors, errors.join('\n')).toEqual([]);
    await close();
  });

  it('/login?state → Forgot password? → back to sign in → tokens with the state', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Detour App', redirectUris: [callback] });
    const { user, password } = await makeUser(ctx.deps);
    const { page, errors, close } = await openPage();
    await page.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}&state=st-forgot`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.waitForURL('**/account/forgot-password?**');
    await page.getByRole('link', { name: 'Back to sign in' }).click();
    await page.waitForURL('**/login?**');
    const landed = await signInOnPage(page, user.email, password);
    expect(landed.searchParams.get('state')).toBe('st-forgot');
    expect(landed.searchParams.get('access_token')).toMatch(/^ey/);
    expect(errors, errors.join('\n')).toEqual([]);
    await close();
  });

  it('/authorize (PKCE, nonce) → Forgot password? → reset by email → sign in → a code with the state, no token in any URL', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, { name: 'OIDC Detour', redirectUris: [callback] });
    const { user } = await makeUser(ctx.deps);
    const { verifier, challenge } = pkcePair();
    const { page, urls, errors, close } = await openPage();
    const query = authorizeQuery(app.appId, {
      redirect_uri: callback,
      state: 'st-oidc-reset',
      nonce: 'n-oidc-reset',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${ctx.baseUrl}/authorize?${query}`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByLabel('Email').fill(user.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('If an account exists');

    const resetLink = linkIn(await smtp.next(user.email, 0, 'Reset'), '/account/reset-password');
    expect(resetLink.toString().length).toBeLessThan(2000);
    await page.goto(resetLink.toString());
    await page.getByLabel('New password', { exact: true }).fill('N3w-Detour-Pass!');
    await page.getByLabel('Confirm new password').fill('N3w-Detour-Pass!');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('Your password has been changed');
    await page.getByRole('link', { name: 'Continue to sign in' }).click();
    await page.waitForURL('**/login?**');
    const landed = await signInOnPage(page, user.email, 'N3w-Detour-Pass!');

    expect(landed.origin + landed.pathname).toBe(callback);
    expect(landed.searchParams.get('state')).toBe('st-oidc-reset');
    const code = landed.searchParams.get('code');
    expect(code).toBeTruthy();
    noTokenInAnyUrl(urls);
    expect(errors, errors.join('\n')).toEqual([]);

    // The code is the original request's: redeemed with its PKCE verifier, the ID token has its nonce.
    const res = await fetch(`${ctx.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(app.appId, clientSecret) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: callback, code_verifier: verifier }),
    });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { id_token: string };
    expect(decodeJwt(tokens.id_token).nonce).toBe('n-oidc-reset');
    await close();
  });

  it('/authorize → Create account → verify link from the email → continue → sign in → a code with the state', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'OIDC Detour', redirectUris: [callback] });
    const email = `journey-${Date.now()}@example.com`;
    const { challenge } = pkcePair();
    const { page, urls, errors, close } = await openPage();
    const query = authorizeQuery(app.appId, {
      redirect_uri: callback,
      state: 'st-oidc-new',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${ctx.baseUrl}/authorize?${query}`);
    await page.getByRole('link', { name: 'Create account' }).click();
    await page.getByLabel('Name').fill('Journey User');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('J0urney-Passw0rd!');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain(email);

    const verifyLink = linkIn(await smtp.next(email), '/account/verify');
    expect(verifyLink.toString().length).toBeLessThan(2000);
    // The browser that registered: verifying signs the user in and the client gets its code.
    await page.goto(verifyLink.toString());
    await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Verify email' }).click()]);
    const landed = new URL(page.url());

    expect(landed.searchParams.get('state')).toBe('st-oidc-new');
    expect(landed.searchParams.get('code')).toBeTruthy();
    noTokenInAnyUrl(urls);
    expect(errors, errors.join('\n')).toEqual([]);
    await close();
  });
});
