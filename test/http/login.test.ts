// The hosted sign-in page (seed 000): branding, exact redirect_uri matching, generic failures,
// the SSO fast path, prompt=login, and bad input that never redirects and never writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateApp } from '../../src/domain/apps/apps.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const loginUrl = (appId: string, redirectUri = DEFAULT_REDIRECT, extra = '') =>
  `/login?app_id=${encodeURIComponent(appId)}&redirect_uri=${encodeURIComponent(redirectUri)}${extra}`;

async function openLogin(appId: string, extra = '', cookies: Record<string, string> = {}) {
  const res = await ctx.app.inject({ url: loginUrl(appId, DEFAULT_REDIRECT, extra), headers: { cookie: cookieHeader(cookies) } });
  return { res, csrf: res.statusCode === 200 ? csrfTokenOf(res.body) : '', cookies: { ...cookies, ...cookiesOf(res) } };
}

async function postLogin(
  appId: string,
  email: string,
  password: string,
  page: { csrf: string; cookies: Record<string, string> },
  state?: string,
) {
  return ctx.app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, cookie: cookieHeader(page.cookies) },
    payload: form({ _csrf: page.csrf, app_id: appId, redirect_uri: DEFAULT_REDIRECT, state, email, password }),
  });
}

const count = async (table: 'refresh_tokens' | 'sessions') =>
  (
    await ctx.deps.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow()
  ).n;

describe('GET /login', () => {
  it('renders the app branding and only the enabled methods', async () => {
    const { app } = await makeApp(ctx.deps, {
      name: 'Acme <b>Portal</b>',
      logoUrl: 'https://cdn.example.com/logo.png',
      primaryColor: '#aa3300',
    });
    const { res } = await openLogin(app.appId);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('Acme &lt;b&gt;Portal&lt;/b&gt;');
    expect(res.body).not.toContain('<b>Portal</b>');
    expect(res.body).toContain('src="https://cdn.example.com/logo.png"');
    expect(res.body).toContain(`href="/branding/${app.appId}.css"`);
    const css = await ctx.app.inject({ url: `/branding/${app.appId}.css` });
    expect(css.body).toContain('--brand: #aa3300');
    expect(res.body).toMatch(/<label for="email">Email<\/label>/);
    expect(res.body).toMatch(/<label for="password">Password<\/label>/);
    expect(res.body).toContain('>Sign in</button>');
    expect(res.body).toContain('name="_csrf"');
  });

  it('unknown app → 400 error page, never a redirect', async () => {
    const res = await ctx.app.inject({ url: loginUrl('00000000-0000-4000-8000-000000000000') });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toContain('Unknown app_id');
  });

  const lookalikes = [
    ['prefix', 'https://app.example.com/callback/evil'],
    ['trailing slash', 'https://app.example.com/callback/'],
    ['other port', 'https://app.example.com:8443/callback'],
    ['other scheme', 'http://app.example.com/callback'],
    ['added query', 'https://app.example.com/callback?next=/admin'],
    ['encoded characters', 'https://app.example.com/%63allback'],
    ['upper-case host', 'https://APP.example.com/callback'],
    ['userinfo', 'https://app.example.com@evil.com/callback'],
    ['fragment', 'https://app.example.com/callback#x'],
    ['other host', 'https://evil.example.com/callback'],
  ];
  it.each(lookalikes)('look-alike redirect_uri (%s) → 400 error page, no redirect', async (_name, uri) => {
    const { app } = await makeApp(ctx.deps);
    const res = await ctx.app.inject({ url: loginUrl(app.appId, uri!) });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toContain('The redirect_uri is not registered for this app');
  });

  it.each([
    ['missing app_id', `/login?redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`],
    ['missing redirect_uri', '/login?app_id=abc'],
    ['oversized state', `/login?app_id=abc&redirect_uri=x&state=${'s'.repeat(5000)}`],
  ])('%s → 400 page with a clear message', async (_name, url) => {
    const res = await ctx.app.inject({ url });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('Invalid request');
  });
});

describe('POST /login', () => {
  it('signs in: 303 to the redirect_uri with tokens and state; SSO cookie set', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const page = await openLogin(app.appId, '&state=xyz%0D%0Aevil');
    const res = await postLogin(app.appId, user.email.toUpperCase(), password, page, 'xyz\r\nevil');
    expect(res.statusCode).toBe(303);
    const loc = new URL(res.headers.location as string);
    expect(`${loc.origin}${loc.pathname}`).toBe(DEFAULT_REDIRECT);
    expect(loc.searchParams.get('token_type')).toBe('Bearer');
    expect(loc.searchParams.get('expires_in')).toBe('900');
    expect(loc.searchParams.get('state')).toBe('xyz\r\nevil');
    expect(res.headers.location).not.toMatch(/[\r\n]/);
    const sso = (res.cookies as { name: string; httpOnly?: boolean; sameSite?: string; maxAge?: number }[]).find(
      (c) => c.name === 'km_sso',
    )!;
    expect(sso.httpOnly).toBe(true);
    expect(sso.sameSite).toBe('Lax');
    expect(sso.maxAge).toBe(8 * 3600);
  });

  it('wrong password and unknown email give the same page, 401, generic message', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const page = await openLogin(app.appId);
    const before = await count('refresh_tokens');
    const wrong = await postLogin(app.appId, user.email, 'Wrong-password-1!', page);
    const unknown = await postLogin(app.appId, 'nobody@example.com', 'Wrong-password-1!', page);
    for (const r of [wrong, unknown]) {
      expect(r.statusCode).toBe(401);
      expect(r.headers.location).toBeUndefined();
      expect(r.body).toContain('Incorrect email or password.');
    }
    expect(await count('refresh_tokens')).toBe(before);
  });

  it('a refused sign-in marks both fields invalid and points them at the message (WCAG 3.3.1)', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const page = await openLogin(app.appId);
    expect(page.res.body).not.toContain('aria-invalid');
    const wrong = await postLogin(app.appId, user.email, 'Wrong-password-1!', page);
    expect(wrong.body).toContain('<div class="error" role="alert" id="form-error">');
    for (const id of ['email', 'password']) {
      expect(wrong.body).toMatch(new RegExp(`<input id="${id}"[^>]* aria-invalid="true" aria-describedby="form-error">`));
    }
  });

  it('an unverified user cannot sign in (403 "Email not verified")', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { verified: false });
    const res = await postLogin(app.appId, user.email, password, await openLogin(app.appId));
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('Email not verified');
  });

  it('without a CSRF token → 403, nothing written', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const page = await openLogin(app.appId);
    const before = await count('sessions');
    const res = await postLogin(app.appId, user.email, password, { ...page, csrf: '' });
    expect(res.statusCode).toBe(403);
    expect(await count('sessions')).toBe(before);
  });

  it('a tampered redirect_uri in the form → 400 page, no redirect, no tokens', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const page = await openLogin(app.appId);
    const before = await count('refresh_tokens');
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(page.cookies) },
      payload: form({ _csrf: page.csrf, app_id: app.appId, redirect_uri: 'https://evil.example.com/cb', email: user.email, password }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(await count('refresh_tokens')).toBe(before);
  });

  it('password sign-in disabled for the app → 400', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const page = await openLogin(app.appId);
    await updateApp(ctx.deps, app.appId, { providers: ['google'] });
    const res = await postLogin(app.appId, user.email, password, page);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('Password login not enabled');
  });
});

describe('SSO', () => {
  it('a live km_sso returns at once with fresh tokens for any app, unless prompt=login', async () => {
    const { app: a } = await makeApp(ctx.deps);
    const { app: b } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const page = await openLogin(a.appId);
    const signedIn = await postLogin(a.appId, user.email, password, page);
    const sso = cookiesOf(signedIn).km_sso!;
    const fast = await ctx.app.inject({ url: loginUrl(b.appId, DEFAULT_REDIRECT, '&state=q'), headers: { cookie: `km_sso=${sso}` } });
    expect(fast.statusCode).toBe(303);
    const loc = new URL(fast.headers.location as string);
    expect(loc.searchParams.get('access_token')).toBeTruthy();
    expect(loc.searchParams.get('state')).toBe('q');
    const forced = await ctx.app.inject({
      url: loginUrl(b.appId, DEFAULT_REDIRECT, '&prompt=login'),
      headers: { cookie: `km_sso=${sso}` },
    });
    expect(forced.statusCode).toBe(200);
    expect(forced.body).toContain('>Sign in</button>');
  });

  it('a garbage or unknown km_sso shows the form', async () => {
    const { app } = await makeApp(ctx.deps);
    for (const v of ['garbage', 'a'.repeat(64)]) {
      const res = await ctx.app.inject({ url: loginUrl(app.appId), headers: { cookie: `km_sso=${v}` } });
      expect(res.statusCode).toBe(200);
    }
  });
});
