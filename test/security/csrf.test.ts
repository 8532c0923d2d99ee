// DESIGN.md §4.8: every state-changing form carries a CSRF token and refuses a cross-site origin.
// Each refused POST must leave every table exactly as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_LOGOUT, DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { countAllRows, openLoginPage, signInThroughForm } from '../helpers/security.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const ISSUER_ORIGIN = 'http://localhost:3000';

async function liveSession(cookieValue: string) {
  return ctx.deps.db
    .selectFrom('sessions')
    .selectAll()
    .where('token_hash', '=', sha256(cookieValue))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

describe('POST /login refuses forged or cross-site submissions', () => {
  type Case = {
    name: string;
    csrf: (real: string) => string | undefined;
    cookies: (real: Record<string, string>) => Record<string, string>;
    headers: Record<string, string>;
  };
  const cases: Case[] = [
    { name: 'no CSRF token', csrf: () => undefined, cookies: (c) => c, headers: {} },
    { name: 'wrong CSRF token', csrf: () => 'x'.repeat(40), cookies: (c) => c, headers: {} },
    { name: 'tampered CSRF token', csrf: (t) => `${t.slice(0, -2)}zz`, cookies: (c) => c, headers: {} },
    { name: 'valid token but no CSRF cookie', csrf: (t) => t, cookies: () => ({}), headers: {} },
    { name: 'valid token, foreign Origin', csrf: (t) => t, cookies: (c) => c, headers: { origin: 'https://evil.example' } },
    { name: 'valid token, Origin null', csrf: (t) => t, cookies: (c) => c, headers: { origin: 'null' } },
    {
      name: 'valid token, look-alike Origin',
      csrf: (t) => t,
      cookies: (c) => c,
      headers: { origin: 'http://localhost:3000.evil.example' },
    },
    { name: 'valid token, Sec-Fetch-Site cross-site', csrf: (t) => t, cookies: (c) => c, headers: { 'sec-fetch-site': 'cross-site' } },
  ];

  for (const c of cases) {
    it(`${c.name} → 403, nothing written`, async () => {
      const { app } = await makeApp(ctx.deps);
      const { user, password } = await makeUser(ctx.deps);
      const page = await openLoginPage(ctx, app.appId);
      const before = await countAllRows(ctx.deps.db);
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/login',
        headers: { ...FORM, cookie: cookieHeader(c.cookies(page.cookies)), ...c.headers },
        payload: form({ _csrf: c.csrf(page.csrf), app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, email: user.email, password }),
      });
      expect(res.statusCode).toBe(403);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.body).not.toContain('access_token');
      expect(res.cookies.find((k) => k.name === 'km_sso')).toBeUndefined();
      expect(await countAllRows(ctx.deps.db)).toEqual(before);
    });
  }

  it('same-origin POST (Origin = issuer, Sec-Fetch-Site same-origin) with a valid token signs in', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password, {
      headers: { origin: ISSUER_ORIGIN, 'sec-fetch-site': 'same-origin' },
    });
    expect(r.post.statusCode).toBe(303);
    expect(r.refreshToken).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a forged Host with a matching Origin is refused: only the configured issuer is same-origin', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const before = await countAllRows(ctx.deps.db);
    const forged = await signInThroughForm(ctx, app.appId, user.email, password, {
      headers: { host: 'evil.example', origin: 'http://evil.example', 'sec-fetch-site': 'same-origin' },
    });
    expect(forged.post.statusCode).toBe(403);
    expect(forged.post.headers.location).toBeUndefined();
    expect(forged.refreshToken).toBeUndefined();
    expect(await countAllRows(ctx.deps.db)).toEqual(before);
    expect(ctx.logText()).toContain('cross-site form post refused: origin http://evil.example');
    // The same forged Host with the issuer's Origin passes: the Host header decides nothing.
    const control = await signInThroughForm(ctx, app.appId, user.email, password, {
      headers: { host: 'evil.example', origin: ISSUER_ORIGIN },
    });
    expect(control.post.statusCode).toBe(303);
  });

  it('a POST without Origin is allowed only because its CSRF token is valid', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password);
    expect(r.post.statusCode).toBe(303);
  });
});

describe('SSO logout', () => {
  async function signedIn() {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password);
    expect(r.cookies.km_sso).toBeTruthy();
    return { app, cookies: r.cookies };
  }
  const logoutUrl = (appId: string) => `/sso/logout?app_id=${appId}&post_logout_redirect_uri=${encodeURIComponent(DEFAULT_LOGOUT)}`;

  it('a cross-site GET to the logout URL only shows a confirmation page; the session lives on', async () => {
    const { app, cookies } = await signedIn();
    const res = await ctx.app.inject({
      url: logoutUrl(app.appId),
      headers: { cookie: cookieHeader(cookies), 'sec-fetch-site': 'cross-site', referer: 'https://evil.example/' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<form method="post" action="/sso/logout">');
    expect(res.body).toContain('name="_csrf"');
    expect(res.headers.location).toBeUndefined();
    expect(res.cookies.find((c) => c.name === 'km_sso')).toBeUndefined();
    expect(await liveSession(cookies.km_sso!)).toBeDefined();
  });

  for (const bad of [
    { name: 'no CSRF token', token: false, headers: {} },
    { name: 'foreign Origin', token: true, headers: { origin: 'https://evil.example' } },
    { name: 'Sec-Fetch-Site cross-site', token: true, headers: { 'sec-fetch-site': 'cross-site' } },
  ]) {
    it(`POST /sso/logout with ${bad.name} → 403, session untouched`, async () => {
      const { app, cookies } = await signedIn();
      const page = await ctx.app.inject({ url: logoutUrl(app.appId), headers: { cookie: cookieHeader(cookies) } });
      const before = await countAllRows(ctx.deps.db);
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/sso/logout',
        headers: { ...FORM, cookie: cookieHeader(cookies), ...bad.headers },
        payload: form({ _csrf: bad.token ? csrfTokenOf(page.body) : undefined, app_id: app.appId }),
      });
      expect(res.statusCode).toBe(403);
      expect(await liveSession(cookies.km_sso!)).toBeDefined();
      expect(await countAllRows(ctx.deps.db)).toEqual(before);
    });
  }

  it('the confirmation form, posted same-origin with its token, ends the session', async () => {
    const { app, cookies } = await signedIn();
    const page = await ctx.app.inject({ url: logoutUrl(app.appId), headers: { cookie: cookieHeader(cookies) } });
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/sso/logout',
      headers: { ...FORM, cookie: cookieHeader(cookies), origin: ISSUER_ORIGIN },
      payload: form({ _csrf: csrfTokenOf(page.body), app_id: app.appId, post_logout_redirect_uri: DEFAULT_LOGOUT }),
    });
    expect(res.statusCode).toBe(200);
    expect(await liveSession(cookies.km_sso!)).toBeUndefined();
  });
});
