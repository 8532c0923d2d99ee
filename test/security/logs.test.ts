// DESIGN.md §4.11: full journeys on the real app with every log line captured (trace level), then
// every secret value the journey used or received is searched for in the log text. One hit fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_SECRET, type TestContext } from '../helpers/app.js';
import { DEFAULT_LOGOUT, DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { openLoginPage, signInThroughForm } from '../helpers/security.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { LOG_LEVEL: 'trace', KEYMASTER_REFRESH_REUSE_INTERVAL: '0' } });
});
afterAll(() => ctx.close());

describe('no secret ever reaches the logs', () => {
  it('sign-in, SSO, refresh, replay, revoke, logout and failures log no password, token, code, secret, cookie or CSRF value', async () => {
    const secrets = new Map<string, string>();
    const keep = (name: string, value: string | undefined) => {
      if (value && value.length >= 8) secrets.set(`${name} (${value.slice(0, 6)}…)`, value);
    };
    keep('KEYMASTER_SECRET', TEST_SECRET);

    const { app, clientSecret } = await makeApp(ctx.deps);
    keep('client secret', clientSecret);
    const { user, password } = await makeUser(ctx.deps, { password: 'Journey-Pa55word!' });
    keep('password', password);

    // A failed sign-in (wrong password), then a good one with a state value.
    const wrongPassword = 'Wrong-But-Secret-Pa55!';
    keep('wrong password', wrongPassword);
    const failed = await signInThroughForm(ctx, app.appId, user.email, wrongPassword);
    expect(failed.post.statusCode).toBe(401);
    const state = 'state-f00dfeedcafe1234';
    keep('state', state);
    const signIn = await signInThroughForm(ctx, app.appId, user.email, password, { state });
    expect(signIn.post.statusCode).toBe(303);
    keep('CSRF token', signIn.page.csrf);
    for (const [name, value] of Object.entries(signIn.cookies)) keep(`cookie ${name}`, value);
    keep('access token', signIn.accessToken);
    keep('refresh token', signIn.refreshToken);

    // SSO: the cookie alone brings fresh tokens.
    const sso = await ctx.app.inject({
      url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=${state}`,
      headers: { cookie: cookieHeader(signIn.cookies) },
    });
    expect(sso.statusCode).toBe(303);
    const ssoLoc = new URL(sso.headers.location as string);
    keep('SSO access token', ssoLoc.searchParams.get('access_token') ?? undefined);
    keep('SSO refresh token', ssoLoc.searchParams.get('refresh_token') ?? undefined);

    // Refresh, then replay the spent token (family revoked), then revoke another.
    const refreshed = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: signIn.refreshToken, app_id: app.appId },
    });
    expect(refreshed.statusCode).toBe(200);
    keep('rotated access token', refreshed.json().access_token);
    keep('rotated refresh token', refreshed.json().refresh_token);
    const replay = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: signIn.refreshToken, app_id: app.appId },
    });
    expect(replay.statusCode).toBeGreaterThanOrEqual(400);
    const revoke = await ctx.app.inject({
      method: 'POST',
      url: '/token/revoke',
      payload: { refresh_token: ssoLoc.searchParams.get('refresh_token') },
    });
    expect(revoke.statusCode).toBe(200);

    // Failures that carry secrets in odd places: a bad JSON body, a form on a JSON route, a bearer
    // header, a forged CSRF post, an oversized password, an unknown token, secrets in the query string.
    const unknownToken = 'feedface'.repeat(8);
    keep('unknown refresh token', unknownToken);
    await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      headers: { 'content-type': 'application/json' },
      payload: `{"refresh_token":"${unknownToken}",`,
    });
    await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      headers: FORM,
      payload: form({ refresh_token: unknownToken, app_id: app.appId }),
    });
    await ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: unknownToken, app_id: app.appId } });
    await ctx.app.inject({
      url: '/.well-known/jwks.json',
      headers: { authorization: `Bearer ${signIn.accessToken}`, cookie: cookieHeader(signIn.cookies) },
    });
    await ctx.app.inject({
      url: `/healthz?access_token=${signIn.accessToken}&code=${unknownToken}&client_secret=${clientSecret}&password=${password}`,
    });
    const page = await openLoginPage(ctx, app.appId);
    await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(page.cookies), origin: 'https://evil.example' },
      payload: form({ _csrf: page.csrf, app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, email: user.email, password }),
    });
    const bigPassword = `Big-${'s3cret'.repeat(200)}`;
    keep('oversized password', bigPassword);
    await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(page.cookies) },
      payload: form({ _csrf: page.csrf, app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, email: user.email, password: bigPassword }),
    });

    // Logout: confirmation page, then the confirmed POST.
    const confirm = await ctx.app.inject({
      url: `/sso/logout?app_id=${app.appId}&post_logout_redirect_uri=${encodeURIComponent(DEFAULT_LOGOUT)}&state=${state}`,
      headers: { cookie: cookieHeader(signIn.cookies) },
    });
    expect(confirm.statusCode).toBe(200);
    const logoutCsrf = csrfTokenOf(confirm.body);
    keep('logout CSRF token', logoutCsrf);
    const cookies = { ...signIn.cookies, ...cookiesOf(confirm) };
    for (const [name, value] of Object.entries(cookiesOf(confirm))) keep(`cookie ${name}`, value);
    const out = await ctx.app.inject({
      method: 'POST',
      url: '/sso/logout',
      headers: { ...FORM, cookie: cookieHeader(cookies) },
      payload: form({ _csrf: logoutCsrf, app_id: app.appId, post_logout_redirect_uri: DEFAULT_LOGOUT, state }),
    });
    expect(out.statusCode).toBe(200);

    const text = ctx.logText();
    // The capture worked and saw the journey (so an empty log cannot pass this test).
    expect(ctx.logs().length).toBeGreaterThan(40);
    expect(text).toContain('/token/refresh');
    expect(text).toContain('request.rejected');
    expect(secrets.size).toBeGreaterThanOrEqual(15);

    const leaked = [...secrets]
      .filter(([, value]) => text.includes(value) || text.includes(encodeURIComponent(value)))
      .map(([name]) => name);
    expect(leaked).toEqual([]);
  });
});

describe('redaction paths', () => {
  it('redact a secret field at the top level of a log object and one level down', () => {
    const before = ctx.logText().length;
    ctx.deps.log.warn(
      {
        event: 'test.redaction',
        password: 'Top-Level-Pa55word!',
        refresh_token: 'top-level-refresh-token',
        body: { client_secret: 'nested-client-secret' },
      },
      'redaction check',
    );
    const text = ctx.logText().slice(before);
    expect(text).toContain('test.redaction');
    for (const secret of ['Top-Level-Pa55word!', 'top-level-refresh-token', 'nested-client-secret']) expect(text).not.toContain(secret);
    expect(text.match(/\[Redacted\]/g)).toHaveLength(3);
  });

  it('an authorization code is redacted where a request carries one; error and exit codes stay readable', async () => {
    const before = ctx.logText().length;
    ctx.deps.log.info({ event: 'test.codes', body: { code: 'secret-authorization-code' }, query: { code: 'secret-callback-code' } }, 'x');
    ctx.deps.log.error({ event: 'worker.exited', worker: 2, code: 1, signal: null }, 'worker exited');
    const refused = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: 'f'.repeat(64), app_id: '00000000-0000-4000-8000-000000000000' },
    });
    expect(refused.statusCode).toBe(401);
    const lines = ctx.logs().slice(-20);
    const text = ctx.logText().slice(before);
    expect(text).not.toContain('secret-authorization-code');
    expect(text).not.toContain('secret-callback-code');
    expect(lines.find((l) => l.event === 'worker.exited')).toMatchObject({ code: 1 });
    expect(lines.filter((l) => l.event === 'request.rejected').at(-1)).toMatchObject({ code: 'invalid_grant', status: 401 });
  });
});
