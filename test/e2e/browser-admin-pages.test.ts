// The hosted pages of the admin plane (issue 14) in real headless Chromium, at desktop (1280 px) and
// phone (390 px) width, light and dark: the first-start setup page (form, refused form, done, dead
// link), the invite page (new and existing account, a wrong password, signed in as the invited
// account and as someone else, a used and an expired code, done), and the sign-in refusals a
// membership gives (waiting for approval, "You do not have access", "Account suspended", after the
// password and from an SSO session): each the app's own page (its name and colour), titled for what
// happened, with no support reference, "Sign in with a different account" (the form, the session not
// resumed) and "Back to <app>". Each page: no serious or critical axe-core violation, no horizontal
// scroll at 390 px, and every error page offers a way back (a link or a button). Screenshots go to
// .test-cache/screenshots/admin-pages/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { issueSetupLink } from '../../src/domain/admin/bootstrap.js';
import type { App } from '../../src/domain/apps/apps.js';
import { createInvite } from '../../src/domain/invites/invites.js';
import { setAppAccess, setMembershipStatus } from '../../src/domain/memberships/memberships.js';
import { startSession } from '../../src/domain/sessions/sessions.js';
import type { TestContext } from '../helpers/app.js';
import { seriousAxeViolations, useBrowserJourney, type AxeViolation } from '../helpers/browser.js';
import { DEFAULT_PASSWORD, makeApp, makeUser, member } from '../helpers/factories.js';

const SHOTS = join(process.cwd(), '.test-cache/screenshots/admin-pages');
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

let ctx: TestContext;
let callback: string;
const journey = useBrowserJourney();
beforeAll(() => {
  ({ ctx, callback } = journey);
  mkdirSync(SHOTS, { recursive: true });
});

const describeAll = (vs: AxeViolation[]) =>
  vs.map((v) => `${v.impact} ${v.id}: ${v.help} @ ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');
const email = (what: string) => `${what}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;

interface Scene {
  name: string;
  /** An error page: it must offer a way back (a link, or a button that leads on). */
  error?: boolean;
  /** A text the page must show (so a screenshot of the wrong page fails the test). */
  shows: string | RegExp;
  /** An SSO session (its cookie value) the browser holds before the page opens. */
  sso?: () => Promise<string>;
  /** A membership refusal: the page's <h1> and the app it is branded for. */
  membership?: { title: string; app: App };
  open: (p: Page) => Promise<unknown>;
}

async function signInAt(p: Page, app: App, user: { email: string }, password: string) {
  await p.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}`);
  await p.getByLabel('Email').fill(user.email);
  await p.getByLabel('Password', { exact: true }).fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('link', { name: 'Sign in with a different account' }).waitFor();
}

/**
 * A membership page's own checks: its title, the app's name and colour, no support reference, and the
 * ways on: back to the app, and "Sign in with a different account" that opens the form (not the session).
 */
async function membershipProblems(p: Page, m: { title: string; app: App }): Promise<string[]> {
  const problems: string[] = [];
  const h1 = (await p.locator('h1').innerText()).trim();
  if (h1 !== m.title) problems.push(`h1 is "${h1}", not "${m.title}"`);
  const main = await p.locator('main').innerText();
  if (!main.includes(m.app.name)) problems.push(`the app's name ${m.app.name} is not shown`);
  if (/Reference/.test(main)) problems.push('shows a support reference');
  if (main.includes('This request cannot be completed')) problems.push('is the generic error page');
  const brand = await p.locator('a.button:not(.secondary)').evaluate((a) => getComputedStyle(a).backgroundColor);
  if (brand !== 'rgb(18, 52, 86)') problems.push(`the main button is ${brand}, not the app's colour #123456`);
  const back = p.getByRole('link', { name: `Back to ${m.app.name}` });
  if ((await back.count()) !== 1) problems.push(`no "Back to ${m.app.name}" link`);
  else if (!(await back.getAttribute('href'))!.startsWith(new URL(callback).origin)) problems.push('"Back to" does not lead to the app');
  await p.getByRole('link', { name: 'Sign in with a different account' }).click();
  await p
    .getByLabel('Password', { exact: true })
    .waitFor({ timeout: 5000 })
    .catch(() => problems.push('"Sign in with a different account" is not the form'));
  return problems;
}

/** The scenes of one viewport: each makes its own data (a setup link, invites, users), so each runs once. */
async function scenes(vp: string): Promise<Scene[]> {
  // Setup: a server with no admin yet (the previous viewport's "done" made one).
  await ctx.deps.db.deleteFrom('admin_grants').execute();
  await ctx.deps.db.deleteFrom('setup_link').execute();
  const setup = (await issueSetupLink(ctx.deps))!;
  const setupUrl = new URL(setup.url);
  const setupPath = `${ctx.baseUrl}/setup${setupUrl.search}`;
  const fillSetup = async (p: Page, confirm: string) => {
    await p.goto(setupPath);
    await p.getByLabel('Email').fill(email(`root-${vp}`));
    await p.getByLabel('Name').fill('Root Admin');
    await p.getByLabel('Password', { exact: true }).fill(DEFAULT_PASSWORD);
    await p.getByLabel('Confirm password').fill(confirm);
    await p.getByRole('button', { name: 'Create administrator' }).click();
  };

  const { app: team } = await makeApp(ctx.deps, { name: 'Team Space', redirectUris: [callback] });
  await setAppAccess(ctx.deps, team.appId, { registrationPolicy: 'invite' });
  const invitePath = (code: string) => `${ctx.baseUrl}/invite?app_id=${team.appId}&code=${encodeURIComponent(code)}`;
  const newInvite = async (to: string) => (await createInvite(ctx.deps, { appId: team.appId, email: to, roles: ['user'] })).code;
  const { user: existing, password } = await makeUser(ctx.deps);
  const { user: other } = await makeUser(ctx.deps);
  const session = (userId: string) => async () => (await startSession(ctx.deps, userId, {}, ['pwd'])).cookieValue;
  const usedCode = await newInvite(existing.email);
  // Spent by accepting (the API, with the account's password).
  const spent = await ctx.app.inject({
    method: 'POST',
    url: '/auth/accept-invite',
    payload: { app_id: team.appId, invite_code: usedCode, email: existing.email, password },
  });
  expect(spent.statusCode, spent.body).toBe(200);
  const expiredCode = await newInvite(email('late'));
  await ctx.deps.db
    .updateTable('invites')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('email', 'like', 'late-%')
    .execute();

  const { app: approval } = await makeApp(ctx.deps, { name: 'Approval Desk', redirectUris: [callback] });
  await setAppAccess(ctx.deps, approval.appId, { registrationPolicy: 'approval' });
  const { app: suspendedApp } = await makeApp(ctx.deps, { name: 'Suspended Place', redirectUris: [callback] });
  const { user: suspended, password: suspendedPassword } = await makeUser(ctx.deps);
  await member(ctx.deps, suspended, suspendedApp, ['user']);
  await setMembershipStatus(ctx.deps, { userId: suspended.id, appId: suspendedApp.appId, status: 'suspended' });
  const { user: outsider, password: outsiderPassword } = await makeUser(ctx.deps);
  const denied = { title: 'You do not have access', app: team };
  const isSuspended = { title: 'Account suspended', app: suspendedApp };

  return [
    { name: 'setup form', shows: 'Create the first administrator', open: (p) => p.goto(setupPath) },
    {
      name: 'setup refused (passwords differ)',
      shows: 'The two passwords do not match',
      open: async (p) => {
        await fillSetup(p, 'Something-else-1!');
        await p.getByRole('alert').waitFor();
      },
    },
    {
      name: 'setup done',
      shows: 'Administrator created',
      open: async (p) => {
        await fillSetup(p, DEFAULT_PASSWORD);
        await p.getByRole('status').waitFor();
      },
    },
    { name: 'setup dead link', error: true, shows: 'This setup link no longer works', open: (p) => p.goto(setupPath) },
    {
      name: 'invite form (new account)',
      shows: 'Create account and join',
      open: async (p) => p.goto(invitePath(await newInvite(email('new')))),
    },
    {
      name: 'invite form (existing account)',
      shows: 'Sign in and join',
      open: async (p) => p.goto(invitePath(await newInvite(existing.email))),
    },
    {
      name: 'invite refused (wrong password)',
      shows: /password/i,
      open: async (p) => {
        await p.goto(invitePath(await newInvite(existing.email)));
        await p.getByLabel('Password', { exact: true }).fill('Wrong-Horse-9!');
        await p.getByRole('button', { name: 'Sign in and join' }).click();
        await p.getByRole('alert').waitFor();
      },
    },
    {
      name: 'invite signed in as the invited account',
      shows: `You are signed in as ${existing.email}`,
      sso: session(existing.id),
      open: async (p) => p.goto(invitePath(await newInvite(existing.email))),
    },
    {
      name: 'invite signed in as another account',
      error: true,
      shows: `but you are signed in as ${other.email}`,
      sso: session(other.id),
      open: async (p) => p.goto(invitePath(await newInvite(existing.email))),
    },
    { name: 'invite code used', error: true, shows: 'This invitation is not valid', open: (p) => p.goto(invitePath(usedCode)) },
    { name: 'invite code expired', error: true, shows: 'This invitation is not valid', open: (p) => p.goto(invitePath(expiredCode)) },
    {
      name: 'invite done',
      shows: 'You have joined Team Space',
      open: async (p) => {
        await p.goto(invitePath(await newInvite(email('joiner'))));
        await p.getByLabel('Name').fill('New Joiner');
        await p.getByLabel('Password', { exact: true }).fill(DEFAULT_PASSWORD);
        await p.getByRole('button', { name: 'Create account and join' }).click();
        await p.getByRole('status').waitFor();
      },
    },
    {
      name: 'sign-in waiting for approval',
      error: true,
      shows: 'Your request to join Approval Desk was received and is waiting for approval by an administrator.',
      membership: { title: 'Waiting for approval', app: approval },
      open: (p) => signInAt(p, approval, existing, password),
    },
    {
      name: 'sign-in refused: no access',
      error: true,
      shows: 'Ask the app’s administrator for an invitation.',
      membership: denied,
      open: (p) => signInAt(p, team, outsider, outsiderPassword),
    },
    {
      name: 'sign-in refused: suspended',
      error: true,
      shows: 'Your access to other apps is not affected.',
      membership: isSuspended,
      open: (p) => signInAt(p, suspendedApp, suspended, suspendedPassword),
    },
    {
      name: 'SSO session refused: suspended',
      error: true,
      shows: 'Your account has been suspended in Suspended Place.',
      membership: isSuspended,
      sso: session(suspended.id),
      open: (p) => p.goto(`${ctx.baseUrl}/login?app_id=${suspendedApp.appId}&redirect_uri=${encodeURIComponent(callback)}`),
    },
  ];
}

describe('admin-plane pages in Chromium: axe, a way back, no sideways scroll', () => {
  it('setup, invite and membership refusal pages at 1280 px and 390 px, light and dark', async () => {
    const found: string[] = [];
    let checked = 0;
    for (const vp of VIEWPORTS) {
      for (const colorScheme of ['light', 'dark'] as const) {
        for (const scene of await scenes(`${vp.name}-${colorScheme}`)) {
          const context = await journey.browser.newContext({ viewport: { width: vp.width, height: vp.height }, colorScheme });
          try {
            if (scene.sso) {
              await context.addCookies([{ name: 'km_sso', value: await scene.sso(), url: ctx.baseUrl, httpOnly: true, sameSite: 'Lax' }]);
            }
            const page = await context.newPage();
            const consoleErrors: string[] = [];
            page.on(
              'console',
              (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && consoleErrors.push(m.text()),
            );
            await scene.open(page);
            const where = `${scene.name} (${vp.name}, ${colorScheme})`;
            const slug = `${scene.name
              .replace(/[^a-z0-9]+/gi, '-')
              .replace(/-$/, '')
              .toLowerCase()}-${vp.name}-${colorScheme}`;
            await page.screenshot({ path: join(SHOTS, `${slug}.png`), fullPage: true });
            const text = await page.locator('main').innerText();
            if (!(typeof scene.shows === 'string' ? text.includes(scene.shows) : scene.shows.test(text))) {
              found.push(`${where}: does not show ${String(scene.shows)}:\n${text}`);
            }
            const bad = await seriousAxeViolations(page);
            if (bad.length) found.push(`${where}:\n${describeAll(bad)}`);
            if (consoleErrors.length) found.push(`${where}: console errors\n${consoleErrors.join('\n')}`);
            const sideways = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
            if (sideways > 0) found.push(`${where}: scrolls sideways by ${sideways} px`);
            if (scene.error) {
              const ways = await page.locator('main a[href], main form button[type=submit]').count();
              if (ways === 0) found.push(`${where}: an error page with no way back (no link or button)`);
            }
            // Last: it follows a link away from the page.
            if (scene.membership)
              for (const problem of await membershipProblems(page, scene.membership)) found.push(`${where}: ${problem}`);
            checked++;
          } finally {
            await context.close();
          }
        }
      }
    }
    expect(checked).toBe(2 * 2 * 16);
    expect(found, found.join('\n\n')).toEqual([]);
  }, 360_000);
});
