// The Console's Operations screens in real headless Chromium (issue 15): a platform admin creates a
// seed-001 refresh key with the keyboard only (sees it once, and it really refreshes), revokes one;
// adds a webhook and pings it (a real local HTTP receiver checks the signature), sees the delivery
// with its status, retries one the receiver refused; filters the audit log; rotates the signing key
// immediately through the warning page and finds the new key in /.well-known/jwks.json. An app admin has no signing keys. Every
// screen: axe-core with no serious or critical violation, no CSP violation, screenshots at 1280, 640
// (200 % zoom) and 390 px in .test-cache/screenshots/console/ops-*.png (not committed).
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookWorker } from '../../src/domain/webhooks/webhook-delivery.js';
import { startTestServer, type TestContext } from '../helpers/app.js';
import { grantTier } from '../helpers/admin.js';
import { enrol } from '../helpers/admin-world.js';
import { launchChromium, seriousAxeViolations, type AxeViolation } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';

const SHOTS = '.test-cache/screenshots/console';

let ctx: TestContext;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let receiver: Server;
let worker: ReturnType<typeof startWebhookWorker> | undefined;
let receiverUrl: string;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
/** The receiver's next answer is a 500 (then 204 again). */
let failNext = false;
const cspErrors: string[] = [];

beforeAll(async () => {
  // The receiver is on loopback, which webhooks may reach only when configured to (DESIGN.md §7.17).
  ctx = await startTestServer({
    env: { KEYMASTER_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', KEYMASTER_WEBHOOK_POLL_MS: '200', KEYMASTER_WEBHOOK_MAX_ATTEMPTS: '1' },
  });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(failNext ? 500 : 204).end();
      failNext = false;
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/keymaster`;
  // The server's own delivery worker (src/main.ts starts it with the other jobs; the test server does not).
  worker = startWebhookWorker(ctx.deps);
  browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ctx.baseUrl });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text());
  });
});
afterAll(async () => {
  await worker?.stop();
  await context?.close();
  await browser?.close();
  await ctx?.close();
  receiver?.close();
});

const describeAll = (vs: AxeViolation[]) =>
  vs.map((v) => `${v.impact} ${v.id}: ${v.help} @ ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');

/** Per screen: the serious/critical axe violations found at each width (all must be none). */
const axeResults: Record<string, number> = {};

/** axe, no CSP error, and a screenshot at desktop, 200 % zoom and phone width, of the page as it is now. */
async function checkScreen(name: string, p: Page = page): Promise<void> {
  let found = 0;
  for (const vp of [
    { label: '1280', width: 1280, height: 800 },
    { label: 'zoom200', width: 640, height: 400 },
    { label: '390', width: 390, height: 844 },
  ]) {
    await p.setViewportSize({ width: vp.width, height: vp.height });
    const violations = await seriousAxeViolations(p);
    found += violations.length;
    expect(violations, `${name} at ${vp.label}px:\n${describeAll(violations)}`).toEqual([]);
    await p.screenshot({ path: `${SHOTS}/ops-${name}-${vp.label}.png`, fullPage: true });
    if (vp.width === 390) await p.screenshot({ path: `${SHOTS}/ops-${name}-390-top.png` });
  }
  await p.setViewportSize({ width: 1280, height: 800 });
  expect(cspErrors, name).toEqual([]);
  axeResults[name] = found;
}

/** Tabs until the element matching `selector` has the focus (keyboard only), at most 60 presses. */
async function tabTo(selector: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

const nav = (label: string) => page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: label, exact: true });
const h1 = (name: string) => page.getByRole('heading', { level: 1, name }).waitFor();

describe('the Console Operations screens in Chromium', () => {
  it('a platform admin: refresh key (keyboard only, once), webhook ping and delivery, audit, rotate immediately', async () => {
    const { user, password } = await makeUser(ctx.deps, { name: 'Ops Admin' });
    await grantTier(ctx, user.id, 'platform_admin');
    const { app } = await makeApp(ctx.deps, { name: 'Billing API' });
    // A second app, so that the per-app screens start with their app picker.
    await makeApp(ctx.deps, { name: 'Reporting API' });
    await enrol(ctx, user.id, app.appId);

    await page.goto(`${ctx.baseUrl}/console`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await h1('Overview');

    // --- Setup → Integrations → JWT Refresh Keys --------------------------------------------------
    await nav('JWT Refresh Keys').click();
    await h1('JWT Refresh Keys');
    await checkScreen('refresh-keys-apps');
    await page.getByRole('link', { name: 'Billing API' }).click();
    await page.getByText('Setup › Integrations › JWT Refresh Keys').waitFor();
    await checkScreen('refresh-keys-empty');

    // Keyboard only: Tab to the blue "+", Enter; Tab to Lifetime, type, Enter submits.
    await tabTo('a.button.plus');
    await page.keyboard.press('Enter');
    await h1('New JWT refresh key');
    expect(await page.getByLabel('Audience').inputValue()).toBe(app.appId);
    await checkScreen('refresh-key-new');
    await tabTo('#lifetime');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('10');
    await page.keyboard.press('Enter');
    await page.locator('#lifetime-error').waitFor();
    expect(await page.locator('#lifetime').getAttribute('aria-invalid')).toBe('true');
    await checkScreen('refresh-key-new-error');
    await tabTo('#lifetime');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('30d');
    await tabTo('button[type=submit]');
    await page.keyboard.press('Enter');
    await h1('Refresh key created');
    const key = (await page.locator('#refresh-key').textContent())!.trim();
    expect(key.length).toBeGreaterThan(30);
    expect(page.url()).not.toContain(key);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await checkScreen('refresh-key-created');
    // It is a working refresh token of the app (the seed's purpose), rotated on use.
    const refreshed = await fetch(`${ctx.baseUrl}/token/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: key, app_id: app.appId }),
    });
    expect(refreshed.status).toBe(200);
    const jti = (await page.locator('dt:text-is("JTI") + dd code').textContent())!.trim();
    await page.getByRole('link', { name: 'Back to the refresh keys' }).click();
    await page.locator(`code.jti[title="${jti}"]`).waitFor();
    expect(await page.content()).not.toContain(key);
    await checkScreen('refresh-keys');
    // Revoke the live successor, through the confirmation page.
    await page
      .getByRole('link', { name: /^Revoke / })
      .first()
      .click();
    await h1('Revoke this refresh key?');
    await checkScreen('refresh-key-revoke');
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('The refresh key was revoked.').waitFor();

    // --- Webhooks: add, ping (a real receiver), the delivery with its status ----------------------
    await nav('Webhooks').click();
    await h1('Webhooks');
    await page.getByRole('link', { name: 'Billing API' }).click();
    await page.getByRole('heading', { name: 'Add a webhook' }).waitFor();
    await checkScreen('webhooks-empty');
    await page.getByLabel('URL').fill('https://');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.locator('#url-error').waitFor();
    await checkScreen('webhooks-error');
    await page.getByLabel('URL').fill(receiverUrl);
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await h1('Webhook added');
    const secret = (await page.locator('#webhook-secret').textContent())!.trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(page.url()).not.toContain(secret);
    await checkScreen('webhook-created');
    await page.getByRole('link', { name: 'Go to the webhook' }).click();
    await h1('Webhook deliveries');
    await page.getByRole('button', { name: 'Send a ping' }).click();
    await page.getByText('A ping was queued').waitFor();
    await expect.poll(() => received.length, { timeout: 15_000 }).toBeGreaterThan(0);
    const ping = received[0]!;
    expect(JSON.parse(ping.body)).toMatchObject({ event: 'ping' });
    expect(ping.headers['x-keymaster-signature']).toBe(`sha256=${createHmac('sha256', secret).update(ping.body).digest('hex')}`);
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('.badge.status-delivered').count();
        },
        { timeout: 15_000 },
      )
      .toBe(1);
    expect(await page.locator('tbody tr').first().textContent()).toContain('204');
    await checkScreen('webhook-deliveries');
    // A delivery the receiver refuses fails (one attempt allowed here); Retry sends it again.
    failNext = true;
    await page.getByRole('button', { name: 'Send a ping' }).click();
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('.badge.status-failed').count();
        },
        { timeout: 15_000 },
      )
      .toBe(1);
    await checkScreen('webhook-delivery-failed');
    await page.getByRole('button', { name: /^Retry/ }).click();
    await page.getByText('The delivery was queued again').waitFor();
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('.badge.status-delivered').count();
        },
        { timeout: 15_000 },
      )
      .toBe(2);
    expect(received).toHaveLength(3);
    expect(received[2]!.body).toBe(received[1]!.body);
    await page.getByRole('link', { name: 'Delete webhook' }).click();
    await h1('Delete this webhook?');
    await checkScreen('webhook-delete');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await h1('Webhook deliveries');

    // --- Audit log: filter, details ---------------------------------------------------------------
    await nav('Audit log').click();
    await h1('Audit log');
    await checkScreen('audit');
    await page.getByLabel('Event type').fill('webhook.pinged');
    await page.getByLabel('Actor (admin user id)').fill(user.id);
    await page.getByRole('button', { name: 'Show events' }).click();
    await page.locator('tbody tr').first().waitFor();
    expect(await page.locator('tbody tr').count()).toBe(2);
    await page.locator('summary').first().click();
    await page.locator('details[open] dt', { hasText: 'deliveryId' }).waitFor();
    await checkScreen('audit-filtered');
    await page.getByLabel('User id', { exact: true }).fill('not-a-uuid');
    await page.getByRole('button', { name: 'Show events' }).click();
    await page.locator('#user_id-error').waitFor();
    await checkScreen('audit-error');

    // --- Signing keys: rotate immediately behind the warning; the new key is in the JWKS ----------
    await nav('Signing keys').click();
    await h1('Signing keys');
    await checkScreen('keys');
    const before = await page.locator('.badge.state-active').count();
    expect(before).toBe(1);
    await page.getByRole('link', { name: 'Rotate immediately…' }).click();
    await h1('Rotate the signing key immediately?');
    await page.getByText('reject new tokens until they fetch it again').waitFor();
    await checkScreen('keys-rotate-now');
    await page.getByRole('button', { name: 'Rotate immediately' }).click();
    await page.getByText('signs from now on').waitFor();
    const kid = (await page.locator('.notice code').textContent())!.trim();
    const activeRow = page.locator('tbody tr', { has: page.locator('.badge.state-active') });
    expect(await activeRow.locator('code').first().textContent()).toBe(kid);
    await checkScreen('keys-rotated');
    const jwks = (await (await fetch(`${ctx.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);

    // Every ops screen was checked, with no serious or critical violation.
    expect(Object.values(axeResults).every((n) => n === 0)).toBe(true);
    console.log(`axe serious/critical per ops screen: ${JSON.stringify(axeResults)}`);
  });

  it('an app admin has no signing keys: not in the navigation, the direct URL is the Console 404', async () => {
    const { user, password } = await makeUser(ctx.deps, { name: 'App Admin' });
    const { app } = await makeApp(ctx.deps, { name: 'Their App' });
    await grantTier(ctx, user.id, 'app_admin', { appId: app.appId });
    const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await other.newPage();
    try {
      await p.goto(`${ctx.baseUrl}/console`);
      await p.getByLabel('Email').fill(user.email);
      await p.getByLabel('Password').fill(password);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      const links = await p.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents();
      expect(links).toContain('JWT Refresh Keys');
      expect(links).not.toContain('Signing keys');
      await p.goto(`${ctx.baseUrl}/console/keys`);
      await p.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
      await checkScreen('keys-not-found-app-admin', p);
      // Their one app: the refresh keys screen goes straight to it.
      await p.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'JWT Refresh Keys' }).click();
      await p.getByText('Their App').first().waitFor();
      expect(new URL(p.url()).pathname).toBe(`/console/refresh-keys/${app.appId}`);
    } finally {
      await other.close();
    }
  });
});
