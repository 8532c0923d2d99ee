// The README's quick start as a newcomer follows it (issue 15), timed: a real server process on a
// fresh, empty data folder (the embedded database, no DATABASE_URL even on a Postgres run: this is the
// first-start path), its setup link read from the log, the first administrator created on the setup
// page, the Console signed in to through the hosted login, an app created there (its secret read once),
// a user created under Users, and that user signed in to the app (authorization code + PKCE, the code
// exchanged with the client secret, the access token verified with jose against the JWKS), all without
// a restart. axe-core on each page visited (no serious or critical violation); screenshots in
// .test-cache/screenshots/quickstart/; the step timings printed and written to
// .test-cache/quickstart-timings.json (for the issue's closing note, not asserted).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as jose from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/app.js';
import { launchChromium, seriousAxeViolations, startAppCallbackServer } from '../helpers/browser.js';
import { authorizeQuery, basicAuth, pkcePair } from '../helpers/oidc.js';
import { spawnServer, type ServerProcess } from '../helpers/server-process.js';

const CACHE = join(process.cwd(), '.test-cache');
const SHOTS = join(CACHE, 'screenshots', 'quickstart');
const ADMIN = { email: 'ada@example.com', name: 'Ada Admin', password: 'Correct-Horse-Battery-9!' };
const USER = { email: 'jane@example.com', name: 'Jane Doe', password: 'Jane-Staple-Horse-7!' };

let dataDir: string;
let server: ServerProcess | undefined;
let browser: Browser | undefined;
let appServer: Server | undefined;
let callback: string;
beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'km-quickstart-'));
  ({ server: appServer, callback } = await startAppCallbackServer());
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  appServer?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Each step's duration, measured with performance.now() from the end of the step before. */
const steps: { step: string; ms: number }[] = [];
let mark = 0;
const done = (step: string) => {
  const now = performance.now();
  steps.push({ step, ms: Math.round(now - mark) });
  mark = now;
};

async function check(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const violations = await seriousAxeViolations(page);
  expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}

describe('the quick start, as a newcomer follows it', () => {
  it('npm start → setup link → first admin → Console → new app → a user signs in to it, no restart', async () => {
    const started = performance.now();
    mark = started;

    // `npm start` on a fresh folder: only the data folder and a port; no DATABASE_URL, no secret, no issuer.
    const port = await freePort();
    server = await spawnServer(port, { KEYMASTER_DATA_DIR: dataDir });
    const base = `http://localhost:${port}`;
    done('server started (fresh data folder)');

    // The setup link, as the log prints it.
    const announced = server.logs.find((l) => l.event === 'setup.link_issued');
    expect(announced, 'the server logged no setup link').toBeDefined();
    const setupUrl = /(http:\/\/\S+\/setup\?token=[0-9a-f]{64})/.exec(announced!.msg as string)?.[1];
    expect(setupUrl).toBeDefined();
    expect(setupUrl!.startsWith(`${base}/setup?`)).toBe(true);

    // The setup page: the first administrator.
    const admin = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await admin.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(setupUrl!);
    await page.getByRole('heading', { level: 1, name: 'Create the first administrator' }).waitFor();
    await check(page, '1-setup');
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Name').fill(ADMIN.name);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Confirm password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.getByRole('heading', { level: 1, name: 'Administrator created' }).waitFor();
    await check(page, '2-setup-done');
    done('setup page: first admin created');

    // The page's link to the Console, then the hosted sign-in.
    await page.getByRole('link', { name: 'Open the Console' }).click();
    await page.waitForURL(/\/authorize\?/);
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console');
    await check(page, '3-console-overview');
    done('Console: signed in');

    // Apps → New app: a name and the app's callback; the secret is shown once.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('heading', { level: 1, name: 'Apps' }).waitFor();
    await check(page, '4-apps');
    await page.getByRole('link', { name: 'New app' }).click();
    await page.getByRole('heading', { level: 1, name: 'New app' }).waitFor();
    await check(page, '5-app-new');
    await page.getByLabel('Name', { exact: true }).fill('My App');
    await page.getByLabel('Redirect URIs', { exact: true }).fill(callback);
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('heading', { level: 1, name: 'App created' }).waitFor();
    const secret = (await page.locator('#client-secret').textContent())!.trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const appId = (await page.locator('.props dd code').first().textContent())!.trim();
    expect(appId).toMatch(/^[0-9a-f-]{36}$/);
    await check(page, '6-app-secret');
    done('Console: app created, secret read');

    // Users → New user (a password, the email marked verified).
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await check(page, '7-users');
    await page.getByRole('link', { name: 'New user' }).click();
    await page.getByRole('heading', { level: 1, name: 'New user' }).waitFor();
    await check(page, '8-user-new');
    await page.getByLabel('Email', { exact: true }).fill(USER.email);
    await page.getByLabel('Name (optional)').fill(USER.name);
    await page.getByLabel('Password (optional)').fill(USER.password);
    await page.getByLabel('The email address is verified').check();
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('heading', { level: 1, name: USER.name }).waitFor();
    const userId = (await page.locator('.props dd code').first().textContent())!.trim();
    await check(page, '9-user');
    done('Console: user created');

    // The app sends the user (their own browser) to /authorize with PKCE; they sign in; the code
    // arrives at the app's callback.
    const { verifier, challenge } = pkcePair();
    const userContext = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const userPage = await userContext.newPage();
    await userPage.goto(
      `${base}/authorize?${authorizeQuery(appId, { redirect_uri: callback, code_challenge: challenge, code_challenge_method: 'S256', state: 'qs-1', scope: 'openid email profile' })}`,
    );
    await userPage.getByText('My App').first().waitFor();
    await check(userPage, '10-app-sign-in');
    await userPage.getByLabel('Email').fill(USER.email);
    await userPage.getByLabel('Password', { exact: true }).fill(USER.password);
    await Promise.all([userPage.waitForURL(`${callback}**`), userPage.getByRole('button', { name: 'Sign in' }).click()]);
    const back = new URL(userPage.url());
    expect(back.searchParams.get('state')).toBe('qs-1');
    const code = back.searchParams.get('code');
    expect(code).toBeTruthy();
    done('user signed in at /authorize, code at the callback');

    // The app's backend exchanges the code with its secret and verifies the access token.
    const tokenRes = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(appId, secret) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: callback, code_verifier: verifier }),
    });
    expect(tokenRes.status).toBe(200);
    const tokens = (await tokenRes.json()) as { access_token: string; token_type: string };
    expect(tokens.token_type).toBe('Bearer');
    const jwks = jose.createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, {
      issuer: base,
      audience: appId,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toBeTruthy();
    // The new app's default policy is open: the user, a member of no app, joined it at this sign-in.
    expect(payload).toMatchObject({ sub: userId, aud: appId, email: USER.email, iss: base });
    done('code exchanged at /token, access token verified (jose + JWKS)');

    // One process the whole way: the server that printed the link is the one that issued the token.
    expect(server.logs.filter((l) => l.event === 'server.started')).toHaveLength(1);
    expect(server.child.exitCode).toBeNull();
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
    await userContext.close();
    await admin.close();

    const total = Math.round(performance.now() - started);
    const table = [...steps, { step: 'total', ms: total }];
    writeFileSync(join(CACHE, 'quickstart-timings.json'), `${JSON.stringify({ at: new Date().toISOString(), steps: table }, null, 2)}\n`);
    const width = Math.max(...table.map((s) => s.step.length));
    console.log(`quick start, timed (ms):\n${table.map((s) => `${s.step.padEnd(width)}  ${String(s.ms).padStart(6)}`).join('\n')}`);
  }, 180_000);
});
