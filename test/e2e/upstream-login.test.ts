// Sign in with Google against a real OpenID provider (panva's oidc-provider on a loopback port) as the
// upstream, driven through headless Chromium; negative cases that a browser adds nothing to use fetch.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import Provider from 'oidc-provider';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateApp } from '../../src/domain/apps/apps.js';
import { setAppAccess } from '../../src/domain/memberships/memberships.js';
import { UPSTREAM_STARTS_PER_IP } from '../../src/domain/upstream/upstream-login.js';
import { createTestContext, freePort, startTestServer, type TestContext } from '../helpers/app.js';
import { launchChromium } from '../helpers/browser.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';

const UPSTREAM_CLIENT_ID = 'keymaster-test';
const UPSTREAM_SECRET = 'upstream-client-secret-0123456789abcdef';
const uniq = () => randomBytes(5).toString('hex');

interface Account {
  email: string;
  email_verified: boolean;
  name?: string;
}
/** Upstream accounts by login name (= subject); the devInteractions login page accepts any password. */
const accounts = new Map<string, Account>();

function startUpstream(issuer: string, port: number, redirectUri: string): Promise<Server> {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: UPSTREAM_CLIENT_ID,
        client_secret: UPSTREAM_SECRET,
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    async findAccount(_ctx: unknown, id: string) {
      const a = accounts.get(id);
      if (!a) return undefined;
      return { accountId: id, claims: () => ({ sub: id, email: a.email, email_verified: a.email_verified, name: a.name }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Like Google: the profile claims travel in the ID token, not only from userinfo.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['upstream-cookie-key-0123456789abcdef'] },
  });
  const server = createServer(provider.callback());
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const closeServer = (s: Server | undefined) =>
  new Promise<void>((resolve) => {
    if (!s) return resolve();
    s.closeAllConnections();
    s.close(() => resolve());
  });

let ctx: TestContext;
let upstream: Server;
let upstreamIssuer: string;
let browser: Browser;

beforeAll(async () => {
  const upstreamPort = await freePort();
  upstreamIssuer = `http://127.0.0.1:${upstreamPort}`;
  ctx = await startTestServer({
    env: {
      KEYMASTER_GOOGLE_ISSUER: upstreamIssuer,
      KEYMASTER_GOOGLE_CLIENT_ID: UPSTREAM_CLIENT_ID,
      KEYMASTER_GOOGLE_CLIENT_SECRET: UPSTREAM_SECRET,
    },
  });
  upstream = await startUpstream(upstreamIssuer, upstreamPort, `${ctx.baseUrl}/login/google/callback`);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await closeServer(upstream);
  await ctx?.close();
});

async function googleApp() {
  return (await makeApp(ctx.deps, { providers: ['password', 'google'] })).app;
}

function loginUrl(appId: string, state = 'st-1') {
  return `${ctx.baseUrl}/login?app_id=${appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=${state}`;
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  // The app's callback is answered here; nothing leaves the machine (the upstream's pages import a web font).
  // Playwright does not route requests that follow a redirect, so the redirect to the app may still end
  // on a network error page: the tests read the URL, which is what the app would receive.
  await page.route('https://app.example.com/**', (r) => r.fulfill({ body: 'ok' }));
  await page.route(/^https:\/\/fonts\./, (r) => r.abort());
  return { context, page };
}

const backFromUpstream = (u: URL) => u.href.startsWith(DEFAULT_REDIRECT) || u.pathname === '/login/google/callback';

/** From the app's sign-in page through the upstream's login (and consent) to wherever Keymaster sends the browser. */
async function continueWithGoogle(
  page: Page,
  appId: string,
  login: string,
  opts: { cancel?: boolean; authorizationUrl?: string; signInPage?: string } = {},
) {
  if (opts.authorizationUrl) {
    await page.goto(opts.authorizationUrl);
  } else {
    await page.goto(opts.signInPage ?? loginUrl(appId));
    await page.getByRole('link', { name: 'Continue with Google' }).click();
  }
  await page.waitForURL((u) => u.href.startsWith(upstreamIssuer));
  if (opts.cancel) {
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
  } else {
    await page.locator('input[name=login]').fill(login);
    await page.locator('input[name=password]').fill('anything');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    // The upstream asks for consent on a first grant; wait for that page or for the way back.
    const consent = page.getByRole('button', { name: 'Continue' });
    await Promise.race([consent.waitFor().catch(() => undefined), page.waitForURL(backFromUpstream).catch(() => undefined)]);
    if (!backFromUpstream(new URL(page.url()))) await consent.click();
  }
  await page.waitForURL(backFromUpstream);
  return new URL(page.url());
}

async function verifyAccessToken(token: string, appId: string) {
  const jwks = createRemoteJWKSet(new URL(`${ctx.baseUrl}/.well-known/jwks.json`));
  const { payload } = await jwtVerify(token, jwks, { issuer: ctx.baseUrl, audience: appId, algorithms: ['RS256'] });
  return payload;
}

const identitiesOf = (subject: string) =>
  ctx.deps.db.selectFrom('identities').selectAll().where('provider', '=', 'google').where('subject', '=', subject).execute();
const userByEmail = (email: string) => ctx.deps.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
const refreshTokensOf = (userId: string) => ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', userId).execute();

describe('sign in with Google (upstream OpenID provider)', () => {
  it('an OpenID Connect client (/authorize + PKCE) can continue with Google and gets a code, then an ID token for that user', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, { providers: ['password', 'google'] });
    const sub = `oidc-${uniq()}`;
    const email = `${sub}@gmail.example`;
    accounts.set(sub, { email, email_verified: true, name: 'Oidc Person' });
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorize = new URL(`${ctx.baseUrl}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: app.appId,
      redirect_uri: DEFAULT_REDIRECT,
      scope: 'openid email profile',
      state: 'oidc-st',
      nonce: 'n-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    })) {
      authorize.searchParams.set(k, v);
    }
    const { context, page } = await newPage();
    const back = await continueWithGoogle(page, app.appId, sub, { signInPage: authorize.href });
    await context.close();
    // Back at the client with a code (not tokens), as the authorization code flow requires.
    expect(back.origin + back.pathname).toBe(DEFAULT_REDIRECT);
    expect(back.searchParams.get('state')).toBe('oidc-st');
    expect(back.searchParams.get('iss')).toBe(ctx.baseUrl);
    expect(back.searchParams.get('access_token')).toBeNull();
    const code = back.searchParams.get('code')!;
    const res = await fetch(`${ctx.baseUrl}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${app.appId}:${clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier }),
    });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { id_token: string };
    const jwks = createRemoteJWKSet(new URL(`${ctx.baseUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer: ctx.baseUrl, audience: app.appId });
    expect(payload.sub).toBe((await userByEmail(email))!.id);
    expect(payload.nonce).toBe('n-1');
    // RFC 8176 has no value for a federated sign-in, and Google's own methods are not ours to assert.
    expect(payload).not.toHaveProperty('amr');
    expect(payload).not.toHaveProperty('acr');
  });

  it('shows "Continue with Google" only when the app enables google', async () => {
    const passwordOnly = (await makeApp(ctx.deps)).app;
    const res1 = await fetch(loginUrl(passwordOnly.appId));
    expect(await res1.text()).not.toContain('Continue with Google');
    const res2 = await fetch(
      `${ctx.baseUrl}/login/google?app_id=${passwordOnly.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`,
      { redirect: 'manual' },
    );
    expect(res2.status).toBe(400);
    expect(await res2.text()).toContain('Sign-in with Google is not enabled for this app');
    const both = await googleApp();
    const html = await (await fetch(loginUrl(both.appId))).text();
    expect(html).toContain('Continue with Google');
    expect(html).toContain(`href="/login/google?app_id=${both.appId}&amp;redirect_uri=`);
    const googleOnly = (await makeApp(ctx.deps, { providers: ['google'] })).app;
    const only = await (await fetch(loginUrl(googleOnly.appId))).text();
    expect(only).toContain('Continue with Google');
    expect(only).not.toContain('name="password"');
  });

  it('creates a new user on first sign-in, then the same user on return; tokens and SSO like password sign-in', async () => {
    const app = await googleApp();
    const sub = `new-${uniq()}`;
    const email = `${sub}@gmail.example`;
    accounts.set(sub, { email, email_verified: true, name: 'New Person' });

    const { context, page } = await newPage();
    const back = await continueWithGoogle(page, app.appId, sub);
    expect(back.origin + back.pathname).toBe(DEFAULT_REDIRECT);
    expect(back.searchParams.get('state')).toBe('st-1');
    expect(back.searchParams.get('token_type')).toBe('Bearer');
    const claims = await verifyAccessToken(back.searchParams.get('access_token')!, app.appId);
    const user = await userByEmail(email);
    expect(user).toBeDefined();
    expect(claims.sub).toBe(user!.id);
    expect(claims.email).toBe(email);
    expect(user!.email_verified_at).not.toBeNull();
    expect(user!.password_hash).toBeNull();
    expect(user!.name).toBe('New Person');
    const links = await identitiesOf(sub);
    expect(links).toHaveLength(1);
    expect(links[0]!.user_id).toBe(user!.id);
    // The SSO session is set exactly as after a password sign-in: /login now returns straight away.
    expect((await context.cookies(ctx.baseUrl)).map((c) => c.name)).toContain('km_sso');
    expect((await context.cookies(ctx.baseUrl)).map((c) => c.name)).not.toContain('km_upstream');
    const sso = await context.request.get(loginUrl(app.appId, 'st-2'), { maxRedirects: 0 });
    expect(sso.status()).toBe(303);
    expect(new URL(sso.headers().location!).searchParams.get('state')).toBe('st-2');
    await context.close();

    // Returning: a fresh browser, the same upstream account → the same Keymaster user, one link.
    const second = await newPage();
    const again = await continueWithGoogle(second.page, app.appId, sub);
    const claims2 = await verifyAccessToken(again.searchParams.get('access_token')!, app.appId);
    expect(claims2.sub).toBe(user!.id);
    expect(await identitiesOf(sub)).toHaveLength(1);
    expect(await ctx.deps.db.selectFrom('users').select('id').where('email', '=', email).execute()).toHaveLength(1);
    expect(await refreshTokensOf(user!.id)).toHaveLength(3);
    const created = await ctx.deps.db.selectFrom('audit_events').select('event').where('user_id', '=', user!.id).execute();
    expect(created.map((e) => e.event).filter((e) => e === 'user.created')).toHaveLength(1);
    await second.context.close();
  });

  it('links to an existing account when Google says the email is verified (case-insensitively)', async () => {
    const app = await googleApp();
    const { user } = await makeUser(ctx.deps);
    const sub = `link-${uniq()}`;
    accounts.set(sub, { email: user.email.toUpperCase(), email_verified: true });
    const { context, page } = await newPage();
    const back = await continueWithGoogle(page, app.appId, sub);
    const claims = await verifyAccessToken(back.searchParams.get('access_token')!, app.appId);
    expect(claims.sub).toBe(user.id);
    const links = await identitiesOf(sub);
    expect(links.map((l) => l.user_id)).toEqual([user.id]);
    // The password still works: linking adds a way in, it takes none away.
    expect(
      (await ctx.deps.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow()).password_hash,
    ).not.toBeNull();
    await context.close();
  });

  it('refuses to link when Google does not say the email is verified, on a branded page with a way back', async () => {
    const app = await googleApp();
    const { user } = await makeUser(ctx.deps);
    const sub = `unverified-${uniq()}`;
    accounts.set(sub, { email: user.email, email_verified: false });
    const { context, page } = await newPage();
    let status = 0;
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/login/google/callback') status = r.status();
    });
    const ended = await continueWithGoogle(page, app.appId, sub);
    expect(ended.pathname).toBe('/login/google/callback');
    expect(status).toBe(403);
    expect(await page.getByRole('alert').textContent()).toBe('Email not verified by Google.');
    expect(await page.content()).toContain(app.name);
    const goBack = page.getByRole('link', { name: 'Go back' });
    expect(await goBack.getAttribute('href')).toBe(
      `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=st-1`,
    );
    expect(await identitiesOf(sub)).toHaveLength(0);
    expect(await refreshTokensOf(user.id)).toHaveLength(0);
    expect((await context.cookies(ctx.baseUrl)).map((c) => c.name)).not.toContain('km_sso');
    await goBack.click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await context.close();
  });

  it("an invite-only app refuses a Google user on the app's own page (no access), with its ways on", async () => {
    const app = await googleApp();
    await setAppAccess(ctx.deps, app.appId, { registrationPolicy: 'invite' });
    const sub = `outsider-${uniq()}`;
    accounts.set(sub, { email: `${sub}@gmail.example`, email_verified: true });
    const { context, page } = await newPage();
    let status = 0;
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/login/google/callback') status = r.status();
    });
    const ended = await continueWithGoogle(page, app.appId, sub);
    expect(ended.pathname).toBe('/login/google/callback');
    expect(status).toBe(403);
    expect(await page.locator('h1').textContent()).toBe('You do not have access');
    expect(await page.getByRole('alert').textContent()).toContain(`Your account does not have access to ${app.name}.`);
    expect(await page.content()).not.toContain('Reference:');
    expect(await page.getByRole('link', { name: `Back to ${app.name}` }).getAttribute('href')).toBe('https://app.example.com/');
    const again = page.getByRole('link', { name: 'Sign in with a different account' });
    expect(await again.getAttribute('href')).toBe(
      `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=st-1&prompt=login`,
    );
    expect((await context.cookies(ctx.baseUrl)).map((c) => c.name)).not.toContain('km_sso');
    await again.click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await context.close();
  });

  it('an approval app from /authorize: the waiting-for-approval page, back to the client with access_denied and its state', async () => {
    const app = await googleApp();
    await setAppAccess(ctx.deps, app.appId, { registrationPolicy: 'approval' });
    const sub = `applicant-${uniq()}`;
    accounts.set(sub, { email: `${sub}@gmail.example`, email_verified: true });
    const authorize = new URL(`${ctx.baseUrl}/authorize`);
    const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: app.appId,
      redirect_uri: DEFAULT_REDIRECT,
      scope: 'openid email',
      state: 'pending-st',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    })) {
      authorize.searchParams.set(k, v);
    }
    const { context, page } = await newPage();
    const ended = await continueWithGoogle(page, app.appId, sub, { signInPage: authorize.href });
    expect(ended.pathname).toBe('/login/google/callback');
    expect(await page.locator('h1').textContent()).toBe('Waiting for approval');
    const back = new URL((await page.getByRole('link', { name: `Back to ${app.name}` }).getAttribute('href'))!);
    expect(back.origin + back.pathname).toBe(DEFAULT_REDIRECT);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('pending-st');
    const again = new URL((await page.getByRole('link', { name: 'Sign in with a different account' }).getAttribute('href'))!, ctx.baseUrl);
    expect(again.searchParams.get('authz')).toBeTruthy();
    await context.close();
  });

  it('ends denied consent on the branded error page', async () => {
    const app = await googleApp();
    const { context, page } = await newPage();
    let status = 0;
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/login/google/callback') status = r.status();
    });
    const ended = await continueWithGoogle(page, app.appId, 'nobody', { cancel: true });
    expect(ended.pathname).toBe('/login/google/callback');
    expect(status).toBe(403);
    expect(await page.getByRole('alert').textContent()).toBe('You cancelled signing in with Google.');
    await context.close();
  });

  it("refuses an ID token carrying another flow's nonce", async () => {
    const app = await googleApp();
    const sub = `nonce-${uniq()}`;
    accounts.set(sub, { email: `${sub}@gmail.example`, email_verified: true });
    // Flow A, started elsewhere: its nonce is what an attacker would try to replay.
    const a = await fetch(`${ctx.baseUrl}/login/google?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`, {
      redirect: 'manual',
    });
    expect(a.status).toBe(302);
    const nonceA = new URL(a.headers.get('location')!).searchParams.get('nonce')!;
    expect(nonceA).toBeTruthy();
    // Flow B in the browser (its cookie lands in the browser), its authorization request rewritten to carry nonce A.
    const { context, page } = await newPage();
    const b = await context.request.get(
      `${ctx.baseUrl}/login/google?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`,
      { maxRedirects: 0 },
    );
    expect(b.status()).toBe(302);
    const authB = new URL(b.headers().location!);
    expect(authB.searchParams.get('nonce')).not.toBe(nonceA);
    authB.searchParams.set('nonce', nonceA);
    let status = 0;
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/login/google/callback') status = r.status();
    });
    const ended = await continueWithGoogle(page, app.appId, sub, { authorizationUrl: authB.href });
    expect(ended.pathname).toBe('/login/google/callback');
    expect(status).toBe(400);
    expect(await page.getByRole('alert').textContent()).toBe('The answer from Google could not be verified. Go back and try again.');
    expect(await identitiesOf(sub)).toHaveLength(0);
    expect(await userByEmail(`${sub}@gmail.example`)).toBeUndefined();
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('app_id', '=', app.appId)
      .where('event', '=', 'login.failure')
      .execute();
    expect(audit.map((a) => a.data)).toEqual([
      expect.objectContaining({
        method: 'google',
        reason: 'invalid_request',
        detail: expect.stringMatching(/^OAUTH_JWT_CLAIM_COMPARISON_FAILED: .*nonce/),
      }),
    ]);
    await context.close();
  });

  it('refuses a replayed callback (same cookie, code and state) after a successful sign-in', async () => {
    const app = await googleApp();
    const sub = `replay-${uniq()}`;
    accounts.set(sub, { email: `${sub}@gmail.example`, email_verified: true });
    const { context, page } = await newPage();
    let callback: { url: string; cookie: string } | undefined;
    page.on('request', async (r) => {
      if (new URL(r.url()).pathname === '/login/google/callback') callback = { url: r.url(), cookie: (await r.allHeaders()).cookie ?? '' };
    });
    await continueWithGoogle(page, app.appId, sub);
    const user = await userByEmail(`${sub}@gmail.example`);
    expect(await refreshTokensOf(user!.id)).toHaveLength(1);
    expect(callback!.cookie).toMatch(/km_upstream=[0-9a-f]{64}/);
    const replay = await fetch(callback!.url, { headers: { cookie: callback!.cookie }, redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('This sign-in attempt has expired or was already used');
    expect(await refreshTokensOf(user!.id)).toHaveLength(1);
    // Neither the upstream code, its state nor the flow cookie ever reaches the logs.
    const cb = new URL(callback!.url);
    for (const secret of [
      cb.searchParams.get('code')!,
      cb.searchParams.get('state')!,
      /km_upstream=([0-9a-f]{64})/.exec(callback!.cookie)![1]!,
    ]) {
      expect(ctx.logText()).not.toContain(secret);
    }
    await context.close();
  });

  it('refuses a tampered state and spends the flow', async () => {
    const app = await googleApp();
    const start = await fetch(
      `${ctx.baseUrl}/login/google?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=client-s`,
      { redirect: 'manual' },
    );
    expect(start.status).toBe(302);
    const setCookie = start.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/km_upstream=[0-9a-f]{64}/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const cookie = /km_upstream=[0-9a-f]{64}/.exec(setCookie)![0];
    const auth = new URL(start.headers.get('location')!);
    expect(auth.origin).toBe(upstreamIssuer);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('client_id')).toBe(UPSTREAM_CLIENT_ID);
    expect(auth.searchParams.get('redirect_uri')).toBe(`${ctx.baseUrl}/login/google/callback`);
    // The client's state stays with Keymaster; the upstream sees only its own random state.
    expect(auth.searchParams.get('state')).not.toBe('client-s');
    const flow = await ctx.deps.db.selectFrom('upstream_flows').selectAll().where('app_id', '=', app.appId).executeTakeFirstOrThrow();
    expect(flow.secrets_enc).not.toContain(auth.searchParams.get('nonce')!);
    expect(flow.state_hash).not.toBe(auth.searchParams.get('state'));

    const state = auth.searchParams.get('state')!;
    const cb = (s: string) =>
      `${ctx.baseUrl}/login/google/callback?code=forged&state=${encodeURIComponent(s)}&iss=${encodeURIComponent(upstreamIssuer)}`;
    const tampered = await fetch(cb(`${state}x`), { headers: { cookie }, redirect: 'manual' });
    expect(tampered.status).toBe(400);
    const body = await tampered.text();
    expect(body).toContain('does not belong to this sign-in');
    expect(body).toContain('Go back');
    // Single use: the right state after a wrong one finds the flow spent.
    const retry = await fetch(cb(state), { headers: { cookie }, redirect: 'manual' });
    expect(retry.status).toBe(400);
    expect(await retry.text()).toContain('expired or was already used');
    // No cookie at all: the same page, no 500.
    const none = await fetch(cb(state), { redirect: 'manual' });
    expect(none.status).toBe(400);
  });
  it('turning google off for the app hides the button and refuses the flow', async () => {
    const app = await googleApp();
    await updateApp(ctx.deps, app.appId, { providers: ['password'] });
    const res = await fetch(loginUrl(app.appId));
    expect(await res.text()).not.toContain('Continue with Google');
    const start = await fetch(`${ctx.baseUrl}/login/google?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`, {
      redirect: 'manual',
    });
    expect(start.status).toBe(400);
  });
});

describe('upstream down', () => {
  it('never fails start-up; shows a 503 branded page, then retries discovery once the upstream is back', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const down = await createTestContext({
      env: {
        KEYMASTER_GOOGLE_ISSUER: issuer,
        KEYMASTER_GOOGLE_CLIENT_ID: UPSTREAM_CLIENT_ID,
        KEYMASTER_GOOGLE_CLIENT_SECRET: UPSTREAM_SECRET,
      },
    });
    let server: Server | undefined;
    try {
      const { app } = await makeApp(down.deps, { providers: ['google'] });
      const url = `/login/google?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=s`;
      const first = await down.app.inject({ url });
      expect(first.statusCode).toBe(503);
      expect(first.body).toContain('Google cannot be reached right now');
      expect(first.body).toContain(`href="/login?app_id=${app.appId}&amp;redirect_uri=`);
      expect(await down.deps.db.selectFrom('upstream_flows').select('id_hash').execute()).toHaveLength(0);

      server = await startUpstream(issuer, port, `${down.baseUrl}/login/google/callback`);
      const second = await down.app.inject({ url });
      expect(second.statusCode).toBe(302);
      expect(second.headers.location).toMatch(new RegExp(`^${issuer}/auth\\?`));
      const cookie = second.cookies.find((c) => c.name === 'km_upstream')!;
      const state = new URL(second.headers.location as string).searchParams.get('state')!;

      // Down again before the code exchange: the callback ends on the same 503 page.
      await closeServer(server);
      server = undefined;
      const cb = await down.app.inject({
        url: `/login/google/callback?code=abc&state=${state}&iss=${encodeURIComponent(issuer)}`,
        cookies: { km_upstream: cookie.value },
      });
      expect(cb.statusCode).toBe(503);
      expect(cb.body).toContain('Google cannot be reached right now');
      expect(await down.deps.db.selectFrom('refresh_tokens').select('jti').execute()).toHaveLength(0);
      // Keymaster's own logs carry neither the code nor the upstream client secret.
      expect(down.logText()).not.toContain(UPSTREAM_SECRET);
      expect(down.logText()).not.toContain(cookie.value);
    } finally {
      await closeServer(server);
      await down.close();
    }
  });

  it('limits flow starts per IP (each writes a row), on the branded page with Retry-After', async () => {
    // Nothing listens on this port: every allowed start fails discovery quickly (503, no row).
    const issuer = `http://127.0.0.1:${await freePort()}`;
    const limited = await createTestContext({
      clock: 'fixed',
      env: {
        KEYMASTER_GOOGLE_ISSUER: issuer,
        KEYMASTER_GOOGLE_CLIENT_ID: UPSTREAM_CLIENT_ID,
        KEYMASTER_GOOGLE_CLIENT_SECRET: UPSTREAM_SECRET,
      },
    });
    try {
      const { app } = await makeApp(limited.deps, { providers: ['google'] });
      const url = `/login/google?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`;
      for (let i = 0; i < UPSTREAM_STARTS_PER_IP.limit; i++) expect((await limited.app.inject({ url })).statusCode).toBe(503);
      const refused = await limited.app.inject({ url });
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('900');
      expect(refused.body).toContain('Go back');
    } finally {
      await limited.close();
    }
  });
});
