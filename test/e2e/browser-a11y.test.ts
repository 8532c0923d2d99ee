// axe-core on every hosted page in real headless Chromium: desktop and phone width, light and dark
// colour scheme, the default brand and a light one (#f5c518, where white text would be 1.63:1). No
// serious or critical violation is allowed. axe is evaluated through DevTools (not a <script> tag), so
// the pages keep their CSP and a CSP violation still shows as a console error.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from '../helpers/app.js';
import { seriousAxeViolations, type AxeViolation, useBrowserJourney } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';

let ctx: TestContext;
let browser: Browser;
let callback: string;
const journey = useBrowserJourney();
beforeAll(() => void ({ ctx, browser, callback } = journey));

const describeAll = (vs: AxeViolation[]) =>
  vs.map((v) => `${v.impact} ${v.id}: ${v.help} @ ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

describe('hosted pages pass axe-core (WCAG 2.2 AA) in Chromium', () => {
  it('every page, at desktop and phone width, light and dark, default and light brand colour', async () => {
    const { user, password } = await makeUser(ctx.deps);
    const brands = [
      {
        label: 'default brand',
        app: (await makeApp(ctx.deps, { name: 'Axe App', redirectUris: [callback], postLogoutRedirectUris: [callback] })).app,
      },
      {
        label: 'light brand #f5c518',
        app: (
          await makeApp(ctx.deps, {
            name: 'Yellow App',
            redirectUris: [callback],
            postLogoutRedirectUris: [callback],
            primaryColor: '#f5c518',
          })
        ).app,
      },
    ];
    const found: string[] = [];
    let checked = 0;
    for (const { label, app } of brands) {
      const q = `app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}`;
      const pages: { name: string; open: (p: Page) => Promise<unknown> }[] = [
        { name: 'sign-in', open: (p) => p.goto(`${ctx.baseUrl}/login?${q}`) },
        {
          name: 'sign-in with an error',
          open: async (p) => {
            await p.goto(`${ctx.baseUrl}/login?${q}`);
            await p.getByLabel('Email').fill(user.email);
            await p.getByLabel('Password').fill('wrong-Password-1');
            await p.getByRole('button', { name: 'Sign in' }).click();
            await p.getByRole('alert').waitFor();
          },
        },
        { name: 'start page (/)', open: (p) => p.goto(`${ctx.baseUrl}/`) },
        { name: 'page not found', open: (p) => p.goto(`${ctx.baseUrl}/no/such/page`) },
        { name: 'register', open: (p) => p.goto(`${ctx.baseUrl}/account/register?app_id=${app.appId}`) },
        { name: 'forgot password', open: (p) => p.goto(`${ctx.baseUrl}/account/forgot-password?app_id=${app.appId}`) },
        { name: 'reset password (bad link)', open: (p) => p.goto(`${ctx.baseUrl}/account/reset-password?token=nope&app_id=${app.appId}`) },
        { name: 'verify (bad link)', open: (p) => p.goto(`${ctx.baseUrl}/account/verify?token=nope&app_id=${app.appId}`) },
        { name: 'verify: send a new link', open: (p) => p.goto(`${ctx.baseUrl}/account/verify/resend?app_id=${app.appId}`) },
        {
          name: 'signed out',
          open: (p) => p.goto(`${ctx.baseUrl}/sso/logout?app_id=${app.appId}&post_logout_redirect_uri=${encodeURIComponent(callback)}`),
        },
        {
          name: 'error: unknown redirect_uri',
          open: (p) => p.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=https%3A%2F%2Fevil.example%2F`),
        },
        {
          name: 'sign-out confirmation',
          open: async (p) => {
            await p.goto(`${ctx.baseUrl}/login?${q}`);
            await p.getByLabel('Email').fill(user.email);
            await p.getByLabel('Password').fill(password);
            await Promise.all([p.waitForURL(`${callback}**`), p.getByRole('button', { name: 'Sign in' }).click()]);
            await p.goto(`${ctx.baseUrl}/sso/logout?app_id=${app.appId}`);
            await p.getByRole('button', { name: 'Sign out' }).waitFor();
          },
        },
      ];
      for (const vp of VIEWPORTS) {
        for (const colorScheme of ['light', 'dark'] as const) {
          const context: BrowserContext = await browser.newContext({ viewport: { width: vp.width, height: vp.height }, colorScheme });
          try {
            for (const pg of pages) {
              const page = await context.newPage();
              const consoleErrors: string[] = [];
              // (An error page's own status is logged as "Failed to load resource"; anything else counts.)
              page.on(
                'console',
                (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && consoleErrors.push(m.text()),
              );
              await pg.open(page);
              const bad = await seriousAxeViolations(page);
              checked++;
              const where = `${pg.name} (${label}, ${vp.name}, ${colorScheme})`;
              if (bad.length) found.push(`${where}:\n${describeAll(bad)}`);
              if (consoleErrors.length) found.push(`${where}: console errors\n${consoleErrors.join('\n')}`);
              await page.close();
            }
          } finally {
            await context.close();
          }
        }
      }
    }
    expect(checked).toBe(2 * 12 * 2 * 2);
    expect(found, found.join('\n\n')).toEqual([]);
  }, 360_000);
});
