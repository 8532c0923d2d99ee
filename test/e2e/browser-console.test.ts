// The Console in real headless Chromium (issue 15): a platform admin signs in through the hosted
// login, sees the overview, creates an app, sees its secret once (and copies it), uploads a logo and
// sees the branded sign-in preview follow the colour picker. Every screen: axe-core with no serious or
// critical violation, no CSP violation, a visible keyboard focus, and screenshots at 1280 and 390 px in
// .test-cache/screenshots/console/ (not committed) for a person to look at.
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from '../helpers/app.js';
import { grantTier } from '../helpers/admin.js';
import { seriousAxeViolations, useBrowserJourney, type AxeViolation } from '../helpers/browser.js';
import { makeUser } from '../helpers/factories.js';

const SHOTS = '.test-cache/screenshots/console';
const LOGO = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="180" height="48" viewBox="0 0 180 48"><rect width="180" height="48" rx="10" fill="#aa3300"/><text x="20" y="32" font-family="sans-serif" font-size="22" fill="#fff">Shop Inc.</text></svg>',
);

let ctx: TestContext;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const cspErrors: string[] = [];
const journey = useBrowserJourney();
beforeAll(async () => {
  ({ ctx, browser } = journey);
  mkdirSync(SHOTS, { recursive: true });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ctx.baseUrl });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text());
  });
});
afterAll(async () => context?.close());

const describeAll = (vs: AxeViolation[]) =>
  vs.map((v) => `${v.impact} ${v.id}: ${v.help} @ ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');

const checked: string[] = [];

/** axe, no CSP error, and a screenshot at desktop and phone width, of the page as it is now. */
async function checkScreen(name: string): Promise<void> {
  for (const vp of [
    { label: '1280', width: 1280, height: 800 },
    // 200 % zoom of a 1280 px window lays out as 640 CSS px.
    { label: 'zoom200', width: 640, height: 400 },
    { label: '390', width: 390, height: 844 },
  ]) {
    await page.setViewportSize({ width: vp.width, height: vp.height });
    const violations = await seriousAxeViolations(page);
    expect(violations, `${name} at ${vp.label}px:\n${describeAll(violations)}`).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/${name}-${vp.label}.png`, fullPage: true });
    // The first screen as a phone shows it, at a size that can be looked at unscaled.
    if (vp.width === 390) await page.screenshot({ path: `${SHOTS}/${name}-390-top.png` });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  expect(cspErrors, name).toEqual([]);
  checked.push(name);
}

/** The focused element shows an outline (the :focus-visible ring) after a Tab. */
async function focusRingAfterTab(): Promise<{ tag: string; outline: string }> {
  await page.keyboard.press('Tab');
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const s = getComputedStyle(el);
    return { tag: `${el.tagName.toLowerCase()}${el.className ? `.${el.className}` : ''}`, outline: `${s.outlineStyle} ${s.outlineWidth}` };
  });
}

describe('the Console in Chromium', () => {
  it('a platform admin signs in, creates an app, sees the secret once, uploads a logo and sees the preview', async () => {
    const { user, password } = await makeUser(ctx.deps, { name: 'Ada Admin' });
    await grantTier(ctx, user.id, 'platform_admin');

    // Sign in through the hosted login.
    await page.goto(`${ctx.baseUrl}/console`);
    expect(new URL(page.url()).pathname).toBe('/authorize');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console');
    await checkScreen('overview');

    // Keyboard: the first Tab reaches the skip link, then the navigation; each shows a focus ring.
    await page.goto(`${ctx.baseUrl}/console`);
    const first = await focusRingAfterTab();
    expect(first.tag).toBe('a.skip');
    expect(first.outline).toMatch(/^solid [1-9]/);
    const second = await focusRingAfterTab();
    expect(second.outline).toMatch(/^solid [1-9]/);
    // The skip link works from the keyboard.
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');

    // Apps: list, then the form (with a field error first).
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('heading', { level: 1, name: 'Apps' }).waitFor();
    await checkScreen('apps');
    await page.getByRole('link', { name: 'New app' }).click();
    await page.getByRole('heading', { level: 1, name: 'New app' }).waitFor();
    await checkScreen('app-new');
    await page.getByLabel('Name', { exact: true }).fill('Shop');
    await page.getByLabel('Redirect URIs', { exact: true }).fill('https://shop.example.com/callback\nnot a uri');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.locator('#redirect_uris-error').waitFor();
    expect(await page.locator('#redirect_uris').getAttribute('aria-invalid')).toBe('true');
    await checkScreen('app-new-error');

    // Create: the secret once, with a working copy button.
    await page.getByLabel('Redirect URIs', { exact: true }).fill('https://shop.example.com/callback');
    await page.getByLabel('Logout URIs').fill('https://shop.example.com/bye');
    await page.getByLabel('Brand colour', { exact: true }).fill('#aa3300');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('heading', { level: 1, name: 'App created' }).waitFor();
    const secret = (await page.locator('#client-secret').textContent())!.trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(page.url()).not.toContain(secret);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await checkScreen('app-secret');
    // A reload neither shows it again nor makes a second app.
    await page.reload();
    await page.getByText('no longer available').waitFor();
    expect(await page.content()).not.toContain(secret);
    expect(await ctx.deps.db.selectFrom('apps').select('app_id').where('name', '=', 'Shop').execute()).toHaveLength(1);

    // The app's page: upload a logo, then the preview shows it; the colour picker drives the preview.
    await page.getByRole('link', { name: 'Go to the app' }).click();
    await page.getByRole('heading', { level: 1, name: 'Shop' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    await page
      .getByLabel('Logo (PNG, JPEG or SVG, at most 2 MB)')
      .setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: LOGO });
    await page.getByRole('button', { name: 'Upload logo' }).click();
    await page.getByText('The logo was uploaded.').waitFor();
    const preview = page.frameLocator('#preview');
    await preview.getByRole('img').waitFor();
    await expect.poll(() => preview.getByLabel('Password').count()).toBe(1);
    await checkScreen('app');
    await page.locator('#primary_color_picker').fill('#0b6e4f');
    await expect.poll(() => page.locator('#preview').getAttribute('src')).toContain('color=%230b6e4f');
    expect(await page.getByLabel('Brand colour', { exact: true }).inputValue()).toBe('#0b6e4f');
    // The framed page really uses the new colour (its button's background).
    await expect
      .poll(async () => {
        const frame = page.frames().find((f) => f.url().includes('/preview?color='));
        return frame?.evaluate(() => getComputedStyle(document.querySelector('button[type=submit]')!).backgroundColor);
      })
      .toBe('rgb(11, 110, 79)');
    await page.screenshot({ path: `${SHOTS}/app-colour-preview-1280.png`, fullPage: true });

    // Delete: the confirmation page.
    await page.getByRole('link', { name: 'Delete app' }).click();
    await page.getByRole('heading', { level: 1, name: 'Delete Shop?' }).waitFor();
    await checkScreen('app-delete-confirm');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.getByRole('heading', { level: 1, name: 'Shop' }).waitFor();

    // An unknown page: the Console's 404 with a way back.
    await page.goto(`${ctx.baseUrl}/console/apps/00000000-0000-4000-8000-000000000000`);
    await page.getByRole('link', { name: 'Back to the overview' }).waitFor();
    await checkScreen('not-found');

    // Sign out: the signed-out page.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Signed out' }).waitFor();
    await checkScreen('signed-out');
    expect(checked).toHaveLength(9);
  });

  it('a user without an admin tier gets a way out, not a dead end', async () => {
    const { user, password } = await makeUser(ctx.deps);
    const other = await browser.newContext();
    const p = await other.newPage();
    try {
      await p.goto(`${ctx.baseUrl}/console`);
      await p.getByLabel('Email').fill(user.email);
      await p.getByLabel('Password').fill(password);
      await p.getByRole('button', { name: 'Sign in' }).click();
      // The hosted refusal, whose way back leads to the Console's explanation.
      await p.getByRole('link', { name: /Keymaster Console/ }).click();
      await p.getByRole('heading', { level: 1, name: 'No access to the Console' }).waitFor();
      const violations = await seriousAxeViolations(p);
      expect(violations, describeAll(violations)).toEqual([]);
      await p.screenshot({ path: `${SHOTS}/no-access-1280.png`, fullPage: true });
      await p.getByRole('link', { name: 'Sign in with another account' }).click();
      await p.getByRole('heading', { level: 1 }).waitFor();
      expect(new URL(p.url()).pathname).not.toBe('/console/callback');
    } finally {
      await other.close();
    }
  });
});
