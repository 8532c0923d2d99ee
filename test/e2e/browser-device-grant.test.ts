// RFC 8628 end to end: a "device" (oauth4webapi's device functions, against discovery of a real
// listening Keymaster) asks for a code and polls /token at the interval it is given, while headless
// Chromium opens verification_uri_complete, confirms the code, signs in, sees the app and the scopes
// and approves. The tokens are verified with jose against the JWKS over HTTP; axe-core checks every
// /device page (no serious or critical violation) and no page logs a console error (CSP included).
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_CODE_GRANT } from '../../src/domain/apps/apps.js';
import { startTestServer, type TestContext } from '../helpers/app.js';
import { launchChromium, seriousAxeViolations, type AxeViolation } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';

let ctx: TestContext;
let browser: Browser;
let as: oauth.AuthorizationServer;
const insecure = { [oauth.allowInsecureRequests]: true };

beforeAll(async () => {
  ctx = await startTestServer();
  const issuer = new URL(ctx.deps.config.issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await ctx?.close();
});

/** The device's side: poll at the interval, slower on slow_down, until tokens or a final error. */
async function pollForTokens(client: oauth.Client, auth: oauth.ClientAuth, deviceCode: string, interval: number, seen: string[]) {
  let wait = interval;
  for (;;) {
    const res = await oauth.deviceCodeGrantRequest(as, client, auth, deviceCode, insecure);
    try {
      return await oauth.processDeviceCodeResponse(as, client, res);
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err;
      seen.push(err.error);
      if (err.error === 'slow_down') wait += 5;
      else if (err.error !== 'authorization_pending') throw err;
    }
    await sleep(wait * 1000);
  }
}

describe('RFC 8628 device grant in Chromium', () => {
  it('RFC 8628 §3.1-3.5: oauth4webapi polls while the browser confirms the code, signs in and approves; jose verifies the tokens', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, {
      name: 'Living Room TV',
      grantTypes: ['refresh_token', DEVICE_CODE_GRANT],
      allowedScopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    const { user, password } = await makeUser(ctx.deps);
    expect(as.device_authorization_endpoint).toBe(`${ctx.deps.config.issuer}/device_authorization`);
    const client: oauth.Client = { client_id: app.appId };
    const auth = oauth.ClientSecretBasic(clientSecret);

    const started = await oauth.processDeviceAuthorizationResponse(
      as,
      client,
      await oauth.deviceAuthorizationRequest(as, client, auth, { scope: 'openid email offline_access' }, insecure),
    );
    expect(started.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(started.expires_in).toBe(600);
    const seen: string[] = [];
    // The device starts polling before anyone has looked at the code: the first answer is pending.
    const polling = pollForTokens(client, auth, started.device_code, started.interval ?? 5, seen);

    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    // (The wrong-code page's own 400 is logged as "Failed to load resource"; anything else counts.)
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
    const violations: { url: string; found: AxeViolation[] }[] = [];
    const axe = async (p: Page) => violations.push({ url: p.url(), found: await seriousAxeViolations(p) });

    // A mistyped code first: the page says so and offers the form again.
    await page.goto(started.verification_uri);
    await axe(page);
    await page.getByLabel('Code').fill('bbbb-bbbb');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That code is not valid or has expired');
    await axe(page);

    // verification_uri_complete fills the code in; the user still confirms it (§5.4).
    await page.goto(started.verification_uri_complete!);
    expect(await page.getByLabel('Code').inputValue()).toBe(started.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Email').waitFor();
    expect(await page.locator('h1').textContent()).toBe('Sign in to connect your device');
    await axe(page);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await Promise.all([page.waitForURL('**/device/confirm?**'), page.getByRole('button', { name: 'Sign in' }).click()]);
    const confirm = await page.locator('main').textContent();
    expect(confirm).toContain('Living Room TV');
    expect(confirm).toContain('See your email address');
    expect(confirm).toContain('Stay connected until you sign it out');
    await axe(page);
    await page.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Device connected');
    expect(await page.getByRole('status').textContent()).toContain('Return to your device');
    await axe(page);

    const tokens = await polling;
    expect(seen[0]).toBe('authorization_pending');
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri!));
    const { payload: at } = await jwtVerify(tokens.access_token, jwks, { issuer: as.issuer, audience: app.appId, typ: 'at+jwt' });
    expect(at).toMatchObject({ sub: user.id, client_id: app.appId, scope: 'openid email offline_access' });
    const { payload: id } = await jwtVerify(tokens.id_token!, jwks, { issuer: as.issuer, audience: app.appId });
    expect(id).toMatchObject({ sub: user.id, email: user.email, amr: ['pwd'] });
    expect(id.sid).toBe(at.sid);
    expect(tokens.refresh_token).toBeTypeOf('string');
    // Single use: the device polling again gets invalid_grant.
    const again = await oauth.deviceCodeGrantRequest(as, client, auth, started.device_code, insecure);
    await expect(oauth.processDeviceCodeResponse(as, client, again)).rejects.toMatchObject({ error: 'invalid_grant' });

    expect(violations.filter((v) => v.found.length > 0)).toEqual([]);
    expect(errors, errors.join('\n')).toEqual([]);
    await context.close();
  }, 60_000);

  it('RFC 8628 /device pages pass axe-core at phone and desktop width, light and dark, default and light brand colour', async () => {
    const { user, password } = await makeUser(ctx.deps);
    const found: string[] = [];
    let checked = 0;
    for (const primaryColor of [undefined, '#f5c518']) {
      const { app, clientSecret } = await makeApp(ctx.deps, {
        name: 'Axe TV',
        grantTypes: [DEVICE_CODE_GRANT],
        allowedScopes: ['openid', 'email'],
        ...(primaryColor && { primaryColor }),
      });
      const client: oauth.Client = { client_id: app.appId };
      const auth = oauth.ClientSecretBasic(clientSecret);
      const newCode = async () =>
        oauth.processDeviceAuthorizationResponse(
          as,
          client,
          await oauth.deviceAuthorizationRequest(as, client, auth, { scope: 'openid email' }, insecure),
        );
      for (const viewport of [
        { width: 1280, height: 800 },
        { width: 390, height: 844 },
      ]) {
        for (const colorScheme of ['light', 'dark'] as const) {
          const context = await browser.newContext({ viewport, colorScheme });
          const page = await context.newPage();
          const errors: string[] = [];
          page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
          const check = async (name: string) => {
            const bad = await seriousAxeViolations(page);
            checked++;
            const where = `${name} (${primaryColor ?? 'default'}, ${viewport.width}px, ${colorScheme})`;
            if (bad.length) found.push(`${where}: ${bad.map((v) => `${v.impact} ${v.id}: ${v.help}`).join('; ')}`);
          };
          const d = await newCode();
          await page.goto(d.verification_uri_complete!);
          await check('code entry, prefilled');
          await page.getByRole('button', { name: 'Continue' }).click();
          await page.getByLabel('Email').waitFor();
          await check('device sign-in');
          await page.getByLabel('Email').fill(user.email);
          await page.getByLabel('Password', { exact: true }).fill('wrong-Password-1');
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.getByRole('alert').waitFor();
          await check('device sign-in with an error');
          await page.getByLabel('Password', { exact: true }).fill(password);
          await Promise.all([page.waitForURL('**/device/confirm?**'), page.getByRole('button', { name: 'Sign in' }).click()]);
          await check('confirm');
          await page.getByRole('button', { name: 'Deny' }).click();
          await expect.poll(() => page.locator('h1').textContent()).toBe('Device not connected');
          await check('done (denied)');
          await page.goto(`${as.issuer}/device`);
          await page.getByLabel('Code').fill('zzzz-zzzz');
          await page.getByRole('button', { name: 'Continue' }).click();
          await page.getByRole('alert').waitFor();
          await check('wrong code');
          if (errors.length) found.push(`console errors (${colorScheme}): ${errors.join('; ')}`);
          await context.close();
        }
      }
    }
    expect(checked).toBe(2 * 2 * 2 * 6);
    expect(found, found.join('\n')).toEqual([]);
  }, 180_000);
});
