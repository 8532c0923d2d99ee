// The hosted sign-in page in real headless Chromium (Debian's package, driven by playwright-core):
// open /login, fill Email and Password, click Sign in, land on the app's callback with tokens.
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from '../helpers/app.js';
import { useBrowserJourney } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';

let ctx: TestContext;
let browser: Browser;
let callback: string;
const journey = useBrowserJourney();
beforeAll(() => void ({ ctx, browser, callback } = journey));

describe('hosted sign-in in Chromium', () => {
  it('signs in and lands on the callback with tokens; the SSO session skips the form next time', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Browser App', redirectUris: [callback], primaryColor: '#0b7285' });
    const { user, password } = await makeUser(ctx.deps);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('response', (r) => r.status() === 404 && errors.push(`404 ${r.url()}`));

    await page.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}&state=st8`);
    await expect(page.title()).resolves.toContain('Browser App');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(password);
    await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Sign in' }).click()]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('access_token')).toMatch(/^ey/);
    expect(landed.searchParams.get('refresh_token')).toMatch(/^[0-9a-f]{64}$/);
    expect(landed.searchParams.get('state')).toBe('st8');
    // No CSP violations (they are reported as console errors).
    expect(errors, errors.join('\n')).toEqual([]);

    // SSO: a second visit goes straight back with fresh tokens.
    await page.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}`);
    await page.waitForURL(`${callback}**`);
    expect(new URL(page.url()).searchParams.get('refresh_token')).not.toBe(landed.searchParams.get('refresh_token'));
    await page.close();
  });

  it('a wrong password shows a generic error on the same page', async () => {
    const { app } = await makeApp(ctx.deps, { redirectUris: [callback] });
    const { user } = await makeUser(ctx.deps);
    const page = await browser.newPage();
    await page.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill('wrong-Password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Incorrect email or password.');
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.screenshot({ path: '.test-cache/login-error.png' });
    await page.close();
  });

  it("show password: a toggle (the pages' one script, same origin) reveals the password and hides it again", async () => {
    const { app } = await makeApp(ctx.deps, { redirectUris: [callback] });
    const { user, password } = await makeUser(ctx.deps);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}`);
    const field = page.getByLabel('Password', { exact: true });
    const toggle = page.getByRole('button', { name: 'Show password' });
    await field.fill(password);
    await expect(toggle.getAttribute('aria-pressed')).resolves.toBe('false');
    await expect(toggle.getAttribute('aria-controls')).resolves.toBe('password');
    await toggle.click();
    await expect(field.getAttribute('type')).resolves.toBe('text');
    await expect(toggle.getAttribute('aria-pressed')).resolves.toBe('true');
    // Keyboard: the toggle is a button in the tab order (Space presses it).
    await toggle.focus();
    await page.keyboard.press('Space');
    await expect(field.getAttribute('type')).resolves.toBe('password');
    await toggle.click();
    // Submitting turns it back into a password field; the sign-in works as before.
    await page.getByLabel('Email').fill(user.email);
    await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Sign in' }).click()]);
    expect(new URL(page.url()).searchParams.get('access_token')).toMatch(/^ey/);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });

  it('show password: the create-account page has the toggle; a page without a password field has no script', async () => {
    const page = await browser.newPage();
    await page.goto(`${ctx.baseUrl}/account/register`);
    await expect(page.getByRole('button', { name: 'Show password' }).getAttribute('aria-controls')).resolves.toBe('password');
    await page.goto(`${ctx.baseUrl}/account/forgot-password`);
    await expect(page.locator('script').count()).resolves.toBe(0);
    await page.close();
  });
});
