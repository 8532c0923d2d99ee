// The Console's Users screens in real headless Chromium (issue 15): a platform admin signs in through
// the hosted login, invites a new user to an app (the email arrives at a real SMTP peer), the user
// accepts on the hosted /invite page, signs in to that app (code + PKCE) and has the invite's roles in
// the access token (verified with jose against our JWKS); the admin suspends them in that app (their
// refresh there is 403 "Account suspended", their membership of another app still refreshes) and
// revokes one of their sessions. Every Users screen is checked with axe-core at 1280 and 390 px
// (no serious or critical violation) and photographed to .test-cache/screenshots/console/users-*.png.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as jose from 'jose';
import type { Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrol } from '../helpers/admin-world.js';
import { grantTier } from '../helpers/admin.js';
import { startTestServer, type TestContext } from '../helpers/app.js';
import { launchChromium, seriousAxeViolations, startAppCallbackServer, type AxeViolation } from '../helpers/browser.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { authorizeQuery, basicAuth, pkcePair } from '../helpers/oidc.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';

const SHOTS = join(process.cwd(), '.test-cache', 'screenshots', 'console');
// A real server whose mail goes to a real SMTP peer (up first: its URL is the server's SMTP_URL), a
// loopback app callback, and Chromium.
let smtp: SmtpCapture;
let appServer: Server;
const journey = {} as { ctx: TestContext; browser: Browser; callback: string };
beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  smtp = await startSmtpCapture();
  journey.ctx = await startTestServer({ env: { SMTP_URL: smtp.url } });
  ({ server: appServer, callback: journey.callback } = await startAppCallbackServer());
  journey.browser = await launchChromium();
});
afterAll(async () => {
  await journey.browser?.close();
  await journey.ctx?.close();
  await smtp?.close();
  appServer?.close();
});

/** axe results per screen and width, printed at the end (the report's table). */
const axeResults: Record<string, AxeViolation[]> = {};
afterAll(() => {
  const lines = Object.entries(axeResults).map(
    ([k, v]) => `${k}: ${v.length === 0 ? 'no serious/critical' : v.map((x) => x.id).join(', ')}`,
  );
  console.log(`axe (serious/critical) per Users screen:\n${lines.join('\n')}`);
});

/** The page at 1280 and at 390 px: a screenshot each, and no serious or critical axe violation. */
async function check(page: Page, name: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.screenshot({ path: join(SHOTS, `users-${name}-${width}.png`), fullPage: true });
    const violations = await seriousAxeViolations(page);
    axeResults[`${name} @${width}`] = violations;
    expect(violations, `${name} @${width}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function tokenAt(body: Record<string, string>, auth?: string) {
  return fetch(`${journey.ctx.baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth && { authorization: auth }) },
    body: new URLSearchParams(body),
  });
}
const refresh = (appId: string, refreshToken: string) =>
  fetch(`${journey.ctx.baseUrl}/token/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ app_id: appId, refresh_token: refreshToken }),
  });

describe('Console Users in Chromium', () => {
  it('invite → accept → sign in with the roles → suspend in one app only → revoke a session; axe on every Users screen', async () => {
    const { ctx, browser, callback } = journey;
    const { app: shop, clientSecret } = await makeApp(ctx.deps, {
      name: 'Shop',
      redirectUris: [callback],
      grantTypes: ['authorization_code', 'refresh_token'],
      allowedScopes: ['openid', 'profile', 'email', 'offline_access', 'roles'],
      availableRoles: ['user', 'editor', 'admin'],
      autoAssignRoles: ['user'],
      registrationPolicy: 'invite',
    });
    const { app: other } = await makeApp(ctx.deps, { name: 'Forum', redirectUris: [callback] });
    const admin = await makeUser(ctx.deps, { name: 'Ada Admin' });
    await grantTier(ctx, admin.user.id, 'platform_admin');

    const adminContext = await browser.newContext();
    const page = await adminContext.newPage();
    const errors: string[] = [];
    const urls: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => urls.push(r.url()));

    // The admin signs in through the hosted login and opens Users.
    await page.goto(`${ctx.baseUrl}/console/users`);
    await page.getByLabel('Email').fill(admin.user.email);
    await page.getByLabel('Password', { exact: true }).fill(admin.password);
    await Promise.all([page.waitForURL(`${ctx.baseUrl}/console/users`), page.getByRole('button', { name: 'Sign in' }).click()]);
    await expect(page.getByRole('heading', { level: 1, name: 'Users' }).isVisible()).resolves.toBe(true);
    await check(page, 'list');
    await page.getByLabel('Search by the start of an email or a name').fill(admin.user.email.slice(0, 10));
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/console\/users\?search=/);
    expect(await page.getByRole('link', { name: admin.user.email }).count()).toBe(1);
    await check(page, 'search');

    await page.goto(`${ctx.baseUrl}/console/users/new`);
    await check(page, 'new');

    // Invite a new address to Shop with two roles.
    const email = `invitee-${Date.now()}@example.com`;
    await page.goto(`${ctx.baseUrl}/console/users`);
    await page.getByRole('link', { name: 'Invite a user' }).click();
    await page.waitForURL(`${ctx.baseUrl}/console/users/invite`);
    await check(page, 'invite');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('App').selectOption({ label: 'Shop' });
    await page.getByLabel('Roles (optional)').fill('user editor');
    await page.getByLabel('Valid for (hours, optional)').fill('24');
    await page.getByRole('button', { name: 'Send the invitation' }).click();
    await page.getByRole('heading', { level: 1, name: 'Invitation sent' }).waitFor();
    await check(page, 'invited');

    // The email arrives at the SMTP peer; the invitee accepts on the hosted page (their own browser).
    const inviteLink = linkIn(await smtp.next(email), '/invite');
    const userContext = await browser.newContext();
    const userPage = await userContext.newPage();
    await userPage.goto(inviteLink.toString());
    await userPage.getByLabel('Name').fill('Ivy Invitee');
    await userPage.getByLabel('Password', { exact: true }).fill('Correct-Horse-9!');
    await userPage.getByRole('button', { name: 'Create account and join' }).click();
    await userPage.getByText('You have joined Shop.').waitFor();

    // They sign in to Shop (authorization code + PKCE, scope roles; SSO from the invite) and get the invite's roles.
    const { verifier, challenge } = pkcePair();
    await Promise.all([
      userPage.waitForURL(`${callback}**`),
      userPage.goto(
        `${ctx.baseUrl}/authorize?${authorizeQuery(shop.appId, { redirect_uri: callback, code_challenge: challenge, code_challenge_method: 'S256', state: 's-shop', scope: 'openid email offline_access roles' })}`,
      ),
    ]);
    const code = new URL(userPage.url()).searchParams.get('code');
    expect(code).toBeTruthy();
    const tokenRes = await tokenAt(
      { grant_type: 'authorization_code', code: code!, redirect_uri: callback, code_verifier: verifier },
      basicAuth(shop.appId, clientSecret),
    );
    expect(tokenRes.status).toBe(200);
    const shopTokens = (await tokenRes.json()) as { access_token: string; refresh_token: string };
    const jwks = jose.createRemoteJWKSet(new URL(`${ctx.baseUrl}/.well-known/jwks.json`));
    const { payload } = await jose.jwtVerify(shopTokens.access_token, jwks, { issuer: ctx.deps.config.issuer, audience: shop.appId });
    expect(payload.email).toBe(email);
    expect([...(payload.roles as string[])].sort()).toEqual(['editor', 'user']);

    // Their app's backend signs them in to Shop through the Keymaster API too (a token /token/refresh
    // rotates), and they are in Forum as well.
    const invitee = await ctx.deps.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
    await enrol(ctx, invitee.id, other.appId);
    const apiLogin = async (appId: string, userAgent: string) => {
      const res = await fetch(`${ctx.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent },
        body: JSON.stringify({ email, password: 'Correct-Horse-9!', app_id: appId }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { access_token: string; refresh_token: string };
    };
    const shopApi = await apiLogin(shop.appId, 'ShopApp/1.0');
    expect([...(jose.decodeJwt(shopApi.access_token).roles as string[])].sort()).toEqual(['editor', 'user']);
    const forumTokens = await apiLogin(other.appId, 'ForumApp/2.0');

    // The admin finds them, sees both memberships, and suspends them in Shop only.
    await page.goto(`${ctx.baseUrl}/console/users?search=${encodeURIComponent(email)}`);
    await page.getByRole('link', { name: email }).click();
    await page.getByRole('heading', { level: 1, name: 'Ivy Invitee' }).waitFor();
    await check(page, 'detail');
    await page.getByRole('button', { name: 'Suspend in Shop' }).click();
    await page.getByText('The user was suspended in Shop.').waitFor();
    await check(page, 'detail-suspended');
    const suspended = await refresh(shop.appId, shopApi.refresh_token);
    expect(suspended.status).toBe(403);
    expect(JSON.stringify(await suspended.json())).toContain('Account suspended');
    // The OAuth client's refresh at /token is refused too (invalid_grant).
    const oauthRefresh = await tokenAt(
      { grant_type: 'refresh_token', refresh_token: shopTokens.refresh_token },
      basicAuth(shop.appId, clientSecret),
    );
    expect(oauthRefresh.status).toBe(400);
    expect(((await oauthRefresh.json()) as { error: string }).error).toBe('invalid_grant');
    const forumRefresh = await refresh(other.appId, forumTokens.refresh_token);
    expect(forumRefresh.status).toBe(200);
    const forumNext = ((await forumRefresh.json()) as { refresh_token: string }).refresh_token;

    // Their sessions and refresh tokens (seed 001's fields); the admin revokes the Forum sign-in.
    await page.getByRole('link', { name: 'Sessions and refresh tokens' }).click();
    await page.getByRole('heading', { name: 'Refresh tokens' }).waitFor();
    for (const h of ['Expires At', 'Created At', 'Revoked At', 'Last Used', 'Content', 'Token Hash', 'JTI', 'Device Info'])
      expect(await page.getByRole('columnheader', { name: h, exact: true }).count()).toBe(1);
    await check(page, 'sessions');
    const forumRow = page.getByRole('row').filter({ hasText: 'ForumApp/2.0' }).first();
    await forumRow.getByRole('link', { name: /Revoke/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Revoke this session?' }).waitFor();
    await check(page, 'revoke-confirm');
    await page.getByRole('button', { name: 'Revoke the session' }).click();
    await page.getByText('Revoked: those refresh tokens no longer work.').waitFor();
    expect((await refresh(other.appId, forumNext)).status).toBe(401);

    // The delete confirmation, photographed and checked (not confirmed).
    await page.goto(`${ctx.baseUrl}/console/users/${invitee.id}/delete`);
    await check(page, 'delete-confirm');

    // No secret in any URL the admin's browser requested; no console error (a CSP violation is one).
    expect(urls.filter((u) => /[?&](access_token|refresh_token|client_secret|id_token)=/.test(u))).toEqual([]);
    expect(urls.filter((u) => u.startsWith(`${ctx.baseUrl}/console/`) && !u.includes('/console/callback?') && /[?&]code=/.test(u))).toEqual(
      [],
    );
    expect(errors, errors.join('\n')).toEqual([]);
    await userContext.close();
    await adminContext.close();
  });
});
