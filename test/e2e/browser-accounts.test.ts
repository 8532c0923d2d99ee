// The hosted account journeys in real headless Chromium with a real SMTP peer: from the sign-in page,
// "Create account" → email → verify (same browser) → signed in; then "Forgot password?" →
// email → new password → signed in with it. No CSP violations on any page.
import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestContext } from '../helpers/app.js';
import { launchChromium, startAppCallbackServer } from '../helpers/browser.js';
import { makeApp } from '../helpers/factories.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';

let ctx: TestContext;
let smtp: SmtpCapture;
let browser: Browser;
let appServer: Server;
let callback: string;
beforeAll(async () => {
  smtp = await startSmtpCapture();
  ctx = await startTestServer({ env: { SMTP_URL: smtp.url } });
  // The relying app: a real server on loopback whose callback just answers 200.
  ({ server: appServer, callback } = await startAppCallbackServer());
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await ctx?.close();
  await smtp?.close();
  appServer?.close();
});

describe('hosted account pages in Chromium', () => {
  it('create account → verify by email → sign in; forgot password → reset by email → sign in', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Browser Accounts', redirectUris: [callback], primaryColor: '#0b7285' });
    const email = 'browser-reg@example.com';
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('response', (r) => r.status() === 404 && errors.push(`404 ${r.url()}`));
    const loginUrl = `${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}`;

    await page.goto(loginUrl);
    await page.getByRole('link', { name: 'Create account' }).click();
    await expect(page.title()).resolves.toContain('Browser Accounts');
    await page.getByLabel('Name').fill('Browser User');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('Br0wser-Passw0rd!');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain(email);

    const verifyLink = linkIn(await smtp.next(email), '/account/verify');
    // Opened in the browser that registered: verifying signs the user in and continues to the app.
    await page.goto(verifyLink.toString());
    await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Verify email' }).click()]);
    expect(new URL(page.url()).searchParams.get('access_token')).toMatch(/^ey/);

    await page.goto(`${loginUrl}&prompt=login`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('If an account exists');

    const resetLink = linkIn(await smtp.next(email, 0, 'Reset'), '/account/reset-password');
    await page.goto(resetLink.toString());
    await page.getByLabel('New password', { exact: true }).fill('N3w-Br0wser-Pass!');
    await page.getByLabel('Confirm new password').fill('N3w-Br0wser-Pass!');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('Your password has been changed');
    await page.getByRole('link', { name: 'Continue to sign in' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('N3w-Br0wser-Pass!');
    await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Sign in' }).click()]);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});
