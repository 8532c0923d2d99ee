// The sign-in page in German in real Chromium (a browser whose language is de-DE): <html lang="de">,
// German labels and buttons (the show-password toggle too), a German refusal, no serious or critical
// axe-core violation in either state, and the sign-in still lands on the app with tokens.
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from '../helpers/app.js';
import { seriousAxeViolations, useBrowserJourney } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';

let ctx: TestContext;
let browser: Browser;
let callback: string;
const journey = useBrowserJourney();
beforeAll(() => void ({ ctx, browser, callback } = journey));

describe('the sign-in page in German, in Chromium', () => {
  it('is German, accessible, and signs in', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Beispiel', redirectUris: [callback], primaryColor: '#0b7285' });
    const { user, password } = await makeUser(ctx.deps);
    const page = await browser.newPage({ locale: 'de-DE' });
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

    await page.goto(`${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(callback)}`);
    expect(await page.getAttribute('html', 'lang')).toBe('de');
    await expect(page.title()).resolves.toBe('Anmelden · Beispiel');
    await expect(page.getByRole('button', { name: 'Passwort anzeigen' }).count()).resolves.toBe(1);
    await expect(page.getByRole('link', { name: 'Passwort vergessen?' }).count()).resolves.toBe(1);
    expect(await seriousAxeViolations(page)).toEqual([]);

    await page.getByLabel('E-Mail-Adresse').fill(user.email);
    await page.getByLabel('Passwort', { exact: true }).fill('falsches-Passwort-1');
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('E-Mail-Adresse oder Passwort ist falsch.');
    expect(await page.getAttribute('html', 'lang')).toBe('de');
    expect(await seriousAxeViolations(page)).toEqual([]);

    await page.getByLabel('Passwort', { exact: true }).fill(password);
    await Promise.all([page.waitForURL(`${callback}**`), page.getByRole('button', { name: 'Anmelden' }).click()]);
    expect(new URL(page.url()).searchParams.get('access_token')).toMatch(/^ey/);
    // No CSP violation (the refused sign-in's 401 is logged too, and is expected).
    expect(
      errors.filter((e) => !e.includes('status of 401')),
      errors.join('\n'),
    ).toEqual([]);
    const row = await ctx.deps.db.selectFrom('users').select('locale').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.locale).toBe('de');
    await page.close();
  });
});
