// Two-step verification in real headless Chromium (issue 17): enrol on /account (the key read from
// the page, codes computed with the otpauth library), then sign in to an app with the password and a
// code, and again with a recovery code. axe-core finds nothing serious on each new page; no CSP errors.
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from '../helpers/app.js';
import { seriousAxeViolations, useBrowserJourney } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';

let ctx: TestContext;
let browser: Browser;
let callback: string;
const journey = useBrowserJourney();
beforeAll(() => void ({ ctx, browser, callback } = journey));

const codeAt = (secret: string, offsetSteps: number) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offsetSteps * 30_000,
  });

async function freshPage(errors: string[]): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  return page;
}

describe('two-step verification in Chromium', () => {
  it('enrol on /account, then sign in to an app with a code, then with a recovery code', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'TOTP App', redirectUris: [callback] });
    const { user, password } = await makeUser(ctx.deps);
    const errors: string[] = [];

    const page = await freshPage(errors);
    await page.goto(`${ctx.baseUrl}/account`);
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Set up two-step verification' }).click();
    await expect(page.getByRole('img', { name: /QR code/ }).isVisible()).resolves.toBe(true);
    expect(await seriousAxeViolations(page)).toEqual([]);
    const secret = (await page.locator('#totp-secret').textContent())!.trim();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await page.getByLabel('6-digit code').fill(codeAt(secret, 0));
    await page.getByRole('button', { name: 'Turn on' }).click();
    const recovery = (await page.getByRole('list', { name: 'Recovery codes' }).locator('code').allTextContents()).map((c) => c.trim());
    expect(recovery).toHaveLength(10);
    await expect(page.getByText('Two-step verification is on.').isVisible()).resolves.toBe(true);
    expect(await seriousAxeViolations(page)).toEqual([]);

    // A new browser (signed out): the password, then the code page, then the app.
    const loginUrl = `${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}`;
    const second = await freshPage(errors);
    await second.goto(loginUrl);
    await second.getByLabel('Email').fill(user.email);
    await second.getByLabel('Password').fill(password);
    await second.getByRole('button', { name: 'Sign in' }).click();
    await expect(second.getByRole('heading', { name: 'Enter the code from your authenticator app' }).isVisible()).resolves.toBe(true);
    expect(await seriousAxeViolations(second)).toEqual([]);
    // The confirming step is spent: the next step's code (within the ±1 window) signs in.
    await second.getByLabel('6-digit code').fill(codeAt(secret, 1));
    await second.getByRole('button', { name: 'Verify' }).click();
    await second.waitForURL((u) => u.href.startsWith(callback));
    expect(new URL(second.url()).searchParams.get('access_token')).toBeTruthy();

    // And with a recovery code instead.
    const third = await freshPage(errors);
    await third.goto(loginUrl);
    await third.getByLabel('Email').fill(user.email);
    await third.getByLabel('Password').fill(password);
    await third.getByRole('button', { name: 'Sign in' }).click();
    await third.getByText('Use a recovery code').click();
    await third.getByLabel('Recovery code').fill(recovery[0]!);
    await third.getByRole('button', { name: 'Verify' }).click();
    await third.waitForURL((u) => u.href.startsWith(callback));
    const used = await ctx.deps.db.selectFrom('totp_recovery_codes').select('used_at').where('user_id', '=', user.id).execute();
    expect(used.filter((r) => r.used_at !== null)).toHaveLength(1);
    expect(errors).toEqual([]);
  });
});
