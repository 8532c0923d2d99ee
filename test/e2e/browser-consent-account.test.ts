// Consent and the account page in real headless Chromium (issue 16): a third-party app's code flow
// (PKCE, state) through the sign-in page and the consent page, then /account: rename, change the
// password, sign out a session, revoke the app. axe-core (no serious or critical violation) on every
// new page at desktop and 390 px width; no CSP violation (console errors) anywhere.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from '../helpers/app.js';
import { seriousAxeViolations, type AxeViolation, useBrowserJourney } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { authorizeQuery, pkcePair } from '../helpers/oidc.js';

let ctx: TestContext;
let browser: Browser;
let callback: string;
const journey = useBrowserJourney();
beforeAll(() => void ({ ctx, browser, callback } = journey));

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;
const describeAll = (vs: AxeViolation[]) =>
  vs.map((v) => `${v.impact} ${v.id}: ${v.help} @ ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');

describe('consent and /account in Chromium', () => {
  for (const vp of VIEWPORTS) {
    it(`third-party code flow with consent, then /account (${vp.name})`, async () => {
      const { app, clientSecret } = await makeApp(ctx.deps, {
        name: `Gadget ${vp.name}`,
        redirectUris: [callback],
        thirdParty: true,
        primaryColor: '#0b7285',
      });
      const { app: other } = await makeApp(ctx.deps, { name: `Notes ${vp.name}`, redirectUris: [callback] });
      const { user, password } = await makeUser(ctx.deps, { name: 'Chromium User' });
      const context: BrowserContext = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
      const page: Page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
      const axe: string[] = [];
      const check = async (name: string) => {
        const bad = await seriousAxeViolations(page);
        if (bad.length) axe.push(`${name} (${vp.name}):\n${describeAll(bad)}`);
      };

      // A first-party sign-in too, so /account has two sessions to show.
      await page.goto(`${ctx.baseUrl}/login?app_id=${other.appId}&redirect_uri=${encodeURIComponent(callback)}&prompt=login`);
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password', { exact: true }).fill(password);
      await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Sign in' }).click()]);

      // The third-party app: the consent page (SSO session already there), Allow, the code.
      const pkce = pkcePair();
      const q = authorizeQuery(app.appId, {
        redirect_uri: callback,
        state: 'st-chromium',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      });
      await page.goto(`${ctx.baseUrl}/authorize?${q}`);
      await page.waitForURL('**/authorize/consent?**');
      await expect(page.locator('main').textContent()).resolves.toContain(`Gadget ${vp.name} wants to access your account`);
      await expect(page.getByText('See your email address').count()).resolves.toBe(1);
      await check('consent page');
      await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Allow' }).click()]);
      const landed = new URL(page.url());
      expect(landed.searchParams.get('code')).toBeTruthy();
      expect(landed.searchParams.get('state')).toBe('st-chromium');
      // Exchange the code so the app holds a refresh-token family (a session on /account).
      const token = await fetch(`${ctx.baseUrl}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${app.appId}:${clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: landed.searchParams.get('code')!,
          redirect_uri: callback,
          code_verifier: pkce.verifier,
        }),
      });
      expect(token.status).toBe(200);

      // /account: the session of this browser is enough.
      await page.goto(`${ctx.baseUrl}/account`);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Your account');
      await check('account page');

      await page.getByLabel('Name').fill('Renamed In Chromium');
      await page.getByRole('button', { name: 'Save name' }).click();
      await expect(page.getByRole('status').textContent()).resolves.toContain('Your name was saved.');
      await expect(page.getByLabel('Name').inputValue()).resolves.toBe('Renamed In Chromium');

      // A wrong current password: the error is tied to its field.
      await page.getByLabel('Current password').fill('Not-My-Passw0rd!');
      await page.getByLabel('New password', { exact: true }).fill('Chr0mium-New-Pass!');
      await page.getByLabel('Confirm new password').fill('Chr0mium-New-Pass!');
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect(page.getByLabel('Current password').getAttribute('aria-invalid')).resolves.toBe('true');
      await expect(page.locator('#current_password-error').textContent()).resolves.toContain('Current password is incorrect');
      await check('account page with a field error');
      await page.getByLabel('Current password').fill(password);
      await page.getByLabel('New password', { exact: true }).fill('Chr0mium-New-Pass!');
      await page.getByLabel('Confirm new password').fill('Chr0mium-New-Pass!');
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect(page.getByRole('status').textContent()).resolves.toContain('Your password was changed.');

      // The password change ended the other sign-ins; sign in to the first-party app again, then sign it out here.
      await page.goto(`${ctx.baseUrl}/login?app_id=${other.appId}&redirect_uri=${encodeURIComponent(callback)}`);
      await page.waitForURL(`${callback}**`);
      await page.goto(`${ctx.baseUrl}/account`);
      await Promise.all([
        page.waitForURL('**/account?status=session_ended'),
        page.getByRole('button', { name: `Sign out of Notes ${vp.name}` }).click(),
      ]);
      await expect(page.getByRole('status').textContent()).resolves.toContain('The session was signed out.');

      // Connected apps: the third-party app, then revoked.
      await expect(page.getByRole('button', { name: `Remove access of Gadget ${vp.name}` }).count()).resolves.toBe(1);
      await page.getByRole('button', { name: `Remove access of Gadget ${vp.name}` }).click();
      await expect(page.getByRole('status').textContent()).resolves.toContain('can no longer access your account');
      await expect(page.getByText('No app has asked for access to your account.').count()).resolves.toBe(1);
      await check('account page after the changes');

      const row = await ctx.deps.db.selectFrom('users').select('name').where('id', '=', user.id).executeTakeFirstOrThrow();
      expect(row.name).toBe('Renamed In Chromium');
      expect(await ctx.deps.db.selectFrom('consents').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
      const live = await ctx.deps.db
        .selectFrom('refresh_tokens')
        .select('jti')
        .where('user_id', '=', user.id)
        .where('revoked_at', 'is', null)
        .execute();
      expect(live).toEqual([]);

      // The account sign-in page, signed out.
      await context.clearCookies();
      await page.goto(`${ctx.baseUrl}/account`);
      await page.waitForURL('**/account/sign-in?**');
      await check('account sign-in page');
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password', { exact: true }).fill('Chr0mium-New-Pass!');
      await Promise.all([page.waitForURL(`${ctx.baseUrl}/account`), page.getByRole('button', { name: 'Sign in' }).click()]);

      expect(axe, axe.join('\n\n')).toEqual([]);
      expect(errors, errors.join('\n')).toEqual([]);
      await context.close();
    }, 120_000);
  }
});
