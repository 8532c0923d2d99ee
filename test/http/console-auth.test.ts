// The Console's sign-in (issue 15): GET /console starts the hosted authorization-code + PKCE sign-in,
// the callback checks state and nonce and keeps the tokens in an encrypted cookie scoped to /console,
// an expired access token is refreshed, a non-admin gets a page with a way out, and sign-out is a
// CSRF-guarded POST that revokes the refresh token and ends the SSO session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixedClock } from '../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { consoleAppId, grantTier } from '../helpers/admin.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { FORM } from '../helpers/http.js';
import { consoleBrowser, consoleSignIn } from './console-helpers.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(async () => ctx?.close());

async function platformAdmin() {
  const { user, password } = await makeUser(ctx.deps);
  await grantTier(ctx, user.id, 'platform_admin');
  return { user, email: user.email, password };
}

const setCookie = (res: { headers: Record<string, unknown> }, name: string) =>
  ([res.headers['set-cookie']].flat() as string[]).find((c) => c.startsWith(`${name}=`));

describe('Console sign-in', () => {
  it('GET /console without a session redirects to /authorize with PKCE S256, state and nonce', async () => {
    const res = await ctx.app.inject({ url: '/console/apps?x=1' });
    expect(res.statusCode).toBe(302);
    const loc = new URL(res.headers.location as string, ctx.baseUrl);
    expect(loc.pathname).toBe('/authorize');
    const q = loc.searchParams;
    expect(q.get('client_id')).toBe(await consoleAppId(ctx));
    expect(q.get('redirect_uri')).toBe(`${ctx.deps.config.issuer}/console/callback`);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')).toMatch(/^[0-9a-f]{64}$/);
    expect(q.get('nonce')).toMatch(/^[0-9a-f]{64}$/);
    expect(q.get('scope')).toContain('offline_access');
    const flow = setCookie(res, 'km_console_flow')!;
    expect(flow).toMatch(/; Path=\/console(;|$)/);
    expect(flow).toMatch(/HttpOnly/);
    expect(flow).toMatch(/SameSite=Lax/);
    // The verifier travels sealed, never in clear.
    expect(flow).not.toContain(q.get('state')!);
  });

  it('signs a platform admin in, with an encrypted HttpOnly SameSite=Lax cookie scoped to /console, and shows the overview', async () => {
    const admin = await platformAdmin();
    const { browser, callback } = await consoleSignIn(ctx, admin, '/console');
    expect(callback.statusCode).toBe(303);
    expect(callback.headers.location).toBe('/console');
    const cookie = setCookie(callback, 'km_console')!;
    expect(cookie).toMatch(/; Path=\/console(;|$)/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/);
    // Sealed: no JWT, no refresh token in clear.
    expect(cookie).not.toMatch(/eyJ/);
    const live = await ctx.deps.db.selectFrom('refresh_tokens').select('token_hash').where('user_id', '=', admin.user.id).execute();
    expect(live).toHaveLength(1);

    const page = await browser.get('/console');
    expect(page.statusCode).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('<h1>Overview</h1>');
    expect(page.body).toContain('aria-current="page"');
    expect(page.body).toContain(admin.email);
    expect(page.body).toMatch(/<span class="stat-value">\d+<\/span> <span class="stat-label">users<\/span>/);
    // Strict CSP: no inline script or style in the page.
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(page.body).not.toMatch(/\sstyle=/);
    expect(page.body).not.toMatch(/<style/);
  });

  it('returns to the page that started the sign-in, and only ever to a Console path', async () => {
    const admin = await platformAdmin();
    const { callback } = await consoleSignIn(ctx, admin, '/console/nowhere?a=1');
    expect(callback.headers.location).toBe('/console/nowhere?a=1');
    // Only a Console path is ever a return target (safeReturnTo): a path-only redirect on our origin.
    const odd = await consoleSignIn(ctx, admin, '/console/..%2F%2Fevil.example');
    expect(odd.callback.headers.location).toMatch(/^\/console\//);
  });

  it('refuses a callback whose state is wrong or whose flow cookie is missing: no session', async () => {
    const admin = await platformAdmin();
    const browser = consoleBrowser(ctx);
    const start = await browser.get('/console');
    const authorize = new URL(start.headers.location as string, ctx.baseUrl);
    const page = await browser.get(authorize.pathname + authorize.search);
    expect(page.statusCode).toBe(200);
    const { csrfTokenOf } = await import('../helpers/http.js');
    const { hiddenFieldsOf } = await import('../helpers/oidc.js');
    const login = browser.jar.store(
      await ctx.app.inject({
        method: 'POST',
        url: '/login',
        headers: { ...FORM, cookie: browser.jar.header() },
        payload: new URLSearchParams({
          ...hiddenFieldsOf(page.body),
          _csrf: csrfTokenOf(page.body),
          email: admin.email,
          password: admin.password,
        }).toString(),
      }),
    );
    const cb = new URL(login.headers.location as string, ctx.baseUrl);
    expect(cb.pathname).toBe('/console/callback');
    const code = cb.searchParams.get('code')!;

    const wrongState = await browser.get(`/console/callback?code=${code}&state=${'0'.repeat(64)}`);
    expect(wrongState.statusCode).toBe(400);
    expect(wrongState.body).toContain('Sign in again');
    expect(setCookie(wrongState, 'km_console')).toBeUndefined();
    // The flow is spent by the failed attempt: the right state no longer helps either.
    const replay = await browser.get(cb.pathname + cb.search);
    expect(replay.statusCode).toBe(400);
    expect(setCookie(replay, 'km_console')).toBeUndefined();
    // And a callback with no flow cookie at all.
    const bare = await ctx.app.inject({ url: cb.pathname + cb.search });
    expect(bare.statusCode).toBe(400);
    const rows = await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', admin.user.id).execute();
    expect(rows).toHaveLength(0);
  });

  it('refuses a user without an admin tier with a branded page that is not a dead end', async () => {
    const { user, password } = await makeUser(ctx.deps);
    // The hosted login refuses them (403 page) with a way back to the Console, which explains.
    const { callback } = await consoleSignIn(ctx, { email: user.email, password });
    expect(callback.statusCode).toBe(403);
    expect(callback.body).toContain('No access to the Console');
    expect(callback.body).toContain('Sign in with another account');
    expect(callback.body).toMatch(/href="\/end_session\?[^"]*post_logout_redirect_uri=/);
    expect(setCookie(callback, 'km_console') ?? '').not.toMatch(/km_console=[^;]+/);
  });

  it('refreshes an expired access token with the refresh token (rotation), and signs in again when that fails', async () => {
    const admin = await platformAdmin();
    const { browser } = await consoleSignIn(ctx, admin);
    const before = browser.jar.cookies.km_console;
    (ctx.clock as FixedClock).advance(16 * 60 * 1000);
    const page = await browser.get('/console');
    expect(page.statusCode).toBe(200);
    expect(browser.jar.cookies.km_console).not.toBe(before);
    const tokens = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['jti', 'rotated_at'])
      .where('user_id', '=', admin.user.id)
      .execute();
    expect(tokens).toHaveLength(2);
    expect(tokens.filter((t) => t.rotated_at !== null)).toHaveLength(1);

    // Revoke everything; the next refresh fails → the cookie is dropped and a new sign-in starts.
    await ctx.deps.db.updateTable('refresh_tokens').set({ revoked_at: ctx.clock.now() }).where('user_id', '=', admin.user.id).execute();
    (ctx.clock as FixedClock).advance(16 * 60 * 1000);
    const again = await browser.get('/console');
    expect(again.statusCode).toBe(302);
    expect(new URL(again.headers.location as string, ctx.baseUrl).pathname).toBe('/authorize');
    expect(browser.jar.cookies.km_console).toBeUndefined();
  });

  it('sign-out is refused without the CSRF token; with it, revokes the refresh token, clears the cookie and ends the SSO session', async () => {
    const admin = await platformAdmin();
    const { browser } = await consoleSignIn(ctx, admin);
    const noToken = await browser.post('/console/logout', {});
    expect(noToken.statusCode).toBe(403);
    expect((await browser.get('/console')).statusCode).toBe(200);
    const crossSite = await ctx.app.inject({
      method: 'POST',
      url: '/console/logout',
      headers: { ...FORM, cookie: browser.jar.header(), origin: 'https://evil.example' },
      payload: '',
    });
    expect(crossSite.statusCode).toBe(403);

    const page = await browser.get('/console');
    const out = await browser.post('/console/logout', {}, page);
    expect(out.statusCode).toBe(303);
    const end = new URL(out.headers.location as string, ctx.baseUrl);
    expect(end.pathname).toBe('/end_session');
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${ctx.deps.config.issuer}/console`);
    expect(end.searchParams.get('id_token_hint')).toBeTruthy();
    expect(browser.jar.cookies.km_console).toBeUndefined();
    const rows = await ctx.deps.db.selectFrom('refresh_tokens').select('revoked_at').where('user_id', '=', admin.user.id).execute();
    expect(rows.every((r) => r.revoked_at !== null)).toBe(true);

    const ended = await browser.get(end.pathname + end.search);
    expect(ended.statusCode).toBe(303);
    const back = new URL(ended.headers.location as string);
    expect(back.pathname).toBe('/console');
    const signedOut = await browser.get(back.pathname + back.search);
    expect(signedOut.statusCode).toBe(200);
    expect(signedOut.body).toContain('You have signed out');
    // The SSO session is over: the next sign-in asks for the password again.
    const next = await browser.get('/console');
    const authorize = new URL(next.headers.location as string, ctx.baseUrl);
    expect((await browser.get(authorize.pathname + authorize.search)).statusCode).toBe(200);
  });

  it('an admin whose tiers are withdrawn after sign-in gets the no-access page at once', async () => {
    const admin = await platformAdmin();
    const { browser } = await consoleSignIn(ctx, admin);
    expect((await browser.get('/console')).statusCode).toBe(200);
    await ctx.deps.db.deleteFrom('admin_grants').where('user_id', '=', admin.user.id).execute();
    const res = await browser.get('/console');
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('No access to the Console');
    expect(res.body).toContain('Sign in with another account');
    expect(browser.jar.cookies.km_console).toBeUndefined();
  });

  it('a form posted after the session ended changes nothing and says so', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/console/logout', headers: FORM, payload: '' });
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('Sign in again');
  });

  it('an unknown Console page is a Console 404 with a way back', async () => {
    const admin = await platformAdmin();
    const { browser } = await consoleSignIn(ctx, admin);
    const res = await browser.get('/console/no-such-screen');
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain('href="/console"');
  });

  it('lists recent sign-in failures on the overview', async () => {
    const admin = await platformAdmin();
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps, { memberOf: { app, roles: [] } });
    const { signIn } = await import('../helpers/sign-in.js');
    await expect(signIn(ctx, app.appId, user.email, 'wrong-password-1')).rejects.toThrow(/401/);
    const { browser } = await consoleSignIn(ctx, admin);
    const page = await browser.get('/console');
    expect(page.body).toContain('Recent sign-in failures');
    expect(page.body).toContain(user.id);
  });
});

describe('Console cookies on an https issuer', () => {
  let secure: TestContext;
  beforeAll(async () => {
    secure = await createTestContext({ env: { KEYMASTER_ISSUER: 'https://id.example.com' } });
  });
  afterAll(async () => secure?.close());

  it('are Secure and __Secure- prefixed (Path=/console rules out __Host-)', async () => {
    const res = await secure.app.inject({ url: '/console' });
    expect(res.statusCode).toBe(302);
    const flow = setCookie(res, '__Secure-km_console_flow')!;
    expect(flow).toMatch(/; Secure/);
    expect(flow).toMatch(/; Path=\/console(;|$)/);
  });
});
