// /authorize, named after the OpenID conformance suite's Basic/Config OP modules where one exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, FORM } from '../../helpers/http.js';
import { authorizeQuery, hiddenFieldsOf, obtainCode, pkcePair } from '../../helpers/oidc.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

const codeCount = async (appId: string) =>
  (await ctx.deps.db.selectFrom('authorization_codes').select('code_hash').where('app_id', '=', appId).execute()).length;
const authorize = (q: string, cookies: Record<string, string> = {}) =>
  ctx.app.inject({ url: `/authorize?${q}`, headers: { cookie: cookieHeader(cookies) } });
const redirectParams = (res: { headers: Record<string, unknown> }) => new URL(res.headers.location as string).searchParams;

describe('/authorize', () => {
  it('oidcc-server: shows the branded sign-in page, then redirects with code, state and iss', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Acme CRM' });
    const { user, password } = await makeUser(ctx.deps);
    const page = await authorize(authorizeQuery(app.appId));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Acme CRM');
    expect(page.headers['cache-control']).toBe('no-store');
    const { location } = await obtainCode(ctx, app.appId, { email: user.email, password });
    expect(location.origin + location.pathname).toBe(DEFAULT_REDIRECT);
    expect(location.searchParams.get('code')).toMatch(/^[0-9a-f]{64}$/);
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.get('iss')).toBe(ctx.deps.config.issuer);
    const row = await ctx.deps.db.selectFrom('authorization_codes').selectAll().where('app_id', '=', app.appId).executeTakeFirstOrThrow();
    expect(row.code_hash).not.toBe(location.searchParams.get('code')); // stored as a hash
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(60_000);
    expect(row).toMatchObject({
      user_id: user.id,
      redirect_uri: DEFAULT_REDIRECT,
      nonce: 'n-1',
      scope: 'openid profile email offline_access',
    });
  });

  it('POST /authorize works like GET (OIDC Core §3.1.2.1)', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await ctx.app.inject({ method: 'POST', url: '/authorize', headers: FORM, payload: authorizeQuery(app.appId) });
    expect(res.statusCode).toBe(200);
    expect(hiddenFieldsOf(res.body).authz).toBeTruthy();
  });

  it('oidcc-ensure-registered-redirect-uri: an unregistered redirect_uri is an error page, never a redirect', async () => {
    const { app } = await makeApp(ctx.deps);
    for (const uri of [`${DEFAULT_REDIRECT}/extra`, 'https://evil.example/callback', `${DEFAULT_REDIRECT}?x=1`]) {
      const res = await authorize(authorizeQuery(app.appId, { redirect_uri: uri }));
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).toContain('redirect_uri is not registered');
    }
    const missing = await authorize(authorizeQuery(app.appId, { redirect_uri: undefined }));
    expect(missing.statusCode).toBe(400);
    expect(missing.headers.location).toBeUndefined();
  });

  it('an unknown client_id is an error page, never a redirect', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope', '']) {
      const res = await authorize(authorizeQuery(id));
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
  });

  it('oidcc-response-type-missing and unsupported response types redirect with the error', async () => {
    const { app } = await makeApp(ctx.deps);
    const missing = await authorize(authorizeQuery(app.appId, { response_type: undefined }));
    expect(missing.statusCode).toBe(303);
    expect(redirectParams(missing).get('error')).toBe('invalid_request');
    expect(redirectParams(missing).get('state')).toBe('st-1');
    const token = await authorize(authorizeQuery(app.appId, { response_type: 'token' }));
    expect(redirectParams(token).get('error')).toBe('unsupported_response_type');
    expect(redirectParams(token).get('iss')).toBe(ctx.deps.config.issuer);
  });

  it('oidcc-ensure-request-with-unknown-parameter-succeeds', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await authorize(`${authorizeQuery(app.appId)}&extra_param=foo&ui_locales=en`);
    expect(res.statusCode).toBe(200);
  });

  it('request objects are refused by redirect (the module: conformance-basic.test.ts)', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await authorize(authorizeQuery(app.appId, { request: 'eyJhbGciOiJub25lIn0.e30.' }));
    expect(redirectParams(res).get('error')).toBe('request_not_supported');
  });

  it('PKCE: plain is refused, a public client must send S256, a malformed challenge is refused', async () => {
    const { app } = await makeApp(ctx.deps);
    const { challenge } = pkcePair();
    const plain = await authorize(authorizeQuery(app.appId, { code_challenge: challenge, code_challenge_method: 'plain' }));
    expect(redirectParams(plain).get('error')).toBe('invalid_request');
    expect(redirectParams(plain).get('error_description')).toContain('S256');
    const noMethod = await authorize(authorizeQuery(app.appId, { code_challenge: challenge }));
    expect(redirectParams(noMethod).get('error')).toBe('invalid_request'); // RFC 7636 §4.3: the default would be plain
    const bad = await authorize(authorizeQuery(app.appId, { code_challenge: 'short', code_challenge_method: 'S256' }));
    expect(redirectParams(bad).get('error')).toBe('invalid_request');
    const { app: spa } = await makeApp(ctx.deps, { clientType: 'public' });
    const none = await authorize(authorizeQuery(spa.appId));
    expect(redirectParams(none).get('error')).toBe('invalid_request');
    expect(redirectParams(none).get('error_description')).toContain('PKCE');
    const ok = await authorize(authorizeQuery(spa.appId, { code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(ok.statusCode).toBe(200);
    expect(await codeCount(spa.appId)).toBe(0);
  });

  it('scopes: unknown values are ignored; nothing allowed is invalid_scope; the grant is what the app may have', async () => {
    const { app } = await makeApp(ctx.deps, { allowedScopes: ['openid', 'email'] });
    const { user, password } = await makeUser(ctx.deps);
    const none = await authorize(authorizeQuery(app.appId, { scope: 'calendar' }));
    expect(redirectParams(none).get('error')).toBe('invalid_scope');
    await obtainCode(ctx, app.appId, { email: user.email, password }, { scope: 'openid email profile calendar' });
    const row = await ctx.deps.db
      .selectFrom('authorization_codes')
      .select('scope')
      .where('app_id', '=', app.appId)
      .executeTakeFirstOrThrow();
    expect(row.scope).toBe('openid email');
  });

  it('an app without the authorization_code grant gets unauthorized_client', async () => {
    const { app } = await makeApp(ctx.deps, { grantTypes: ['client_credentials'] });
    const res = await authorize(authorizeQuery(app.appId));
    expect(redirectParams(res).get('error')).toBe('unauthorized_client');
  });

  it('oidcc-prompt-none-not-logged-in: login_required by redirect, with state', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await authorize(authorizeQuery(app.appId, { prompt: 'none' }));
    expect(res.statusCode).toBe(303);
    expect(redirectParams(res).get('error')).toBe('login_required');
    expect(redirectParams(res).get('state')).toBe('st-1');
    expect(await codeCount(app.appId)).toBe(0);
  });

  it('oidcc-prompt-none-logged-in: a live SSO session gets a code without a page; prompt=login shows the form', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const { cookies } = await obtainCode(ctx, app.appId, { email: user.email, password });
    const silent = await authorize(authorizeQuery(app.appId, { prompt: 'none', state: 'again' }), cookies);
    expect(silent.statusCode).toBe(303);
    expect(redirectParams(silent).get('code')).toMatch(/^[0-9a-f]{64}$/);
    expect(redirectParams(silent).get('state')).toBe('again');
    const login = await authorize(authorizeQuery(app.appId, { prompt: 'login' }), cookies);
    expect(login.statusCode).toBe(200);
    expect(login.body).toContain('>Sign in</button>');
    const both = await authorize(authorizeQuery(app.appId, { prompt: 'none login' }), cookies);
    expect(redirectParams(both).get('error')).toBe('invalid_request');
  });

  it('oidcc-max-age-1: a session older than max_age must sign in again (prompt=none → login_required)', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const { cookies } = await obtainCode(ctx, app.appId, { email: user.email, password });
    (ctx.clock as FixedClock).advance(2000);
    const page = await authorize(authorizeQuery(app.appId, { max_age: '1' }), cookies);
    expect(page.statusCode).toBe(200);
    const none = await authorize(authorizeQuery(app.appId, { max_age: '1', prompt: 'none' }), cookies);
    expect(redirectParams(none).get('error')).toBe('login_required');
    const fine = await authorize(authorizeQuery(app.appId, { max_age: '3600' }), cookies);
    expect(redirectParams(fine).get('code')).toBeTruthy();
    const bad = await authorize(authorizeQuery(app.appId, { max_age: '-1' }), cookies);
    expect(redirectParams(bad).get('error')).toBe('invalid_request');
  });

  it('login_hint pre-fills the email field', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await authorize(authorizeQuery(app.appId, { login_hint: 'ada@example.com' }));
    expect(res.body).toContain('value="ada@example.com"');
  });

  it('a wrong password keeps the pending request; a tampered one is an error page and issues nothing', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const page = await authorize(authorizeQuery(app.appId));
    const cookies = cookiesOf(page);
    const fields: Record<string, string> = {
      ...hiddenFieldsOf(page.body),
      _csrf: csrfTokenOf(page.body),
      email: user.email,
      password: 'wrong-password',
    };
    const wrong = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookies) },
      payload: new URLSearchParams(fields).toString(),
    });
    expect(wrong.statusCode).toBe(401);
    expect(hiddenFieldsOf(wrong.body).authz).toBe(fields.authz);
    const tampered = { ...fields, password: 'x', authz: `${fields.authz!.slice(0, -4)}AAAA` };
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookies) },
      payload: new URLSearchParams(tampered).toString(),
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(await codeCount(app.appId)).toBe(0);
  });

  it('a pending request sealed for one app cannot be used with another app', async () => {
    const { app: a } = await makeApp(ctx.deps);
    const { app: b } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const page = await authorize(authorizeQuery(a.appId));
    const fields = { ...hiddenFieldsOf(page.body), app_id: b.appId, _csrf: csrfTokenOf(page.body), email: user.email, password };
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
      payload: new URLSearchParams(fields).toString(),
    });
    expect(res.statusCode).toBe(400);
    expect(await codeCount(b.appId)).toBe(0);
  });

  it('the Keymaster /login contract is unchanged (tokens in the query, no code)', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const page = await ctx.app.inject({ url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}` });
    const fields: Record<string, string> = { ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), email: user.email, password };
    expect(fields.authz).toBeUndefined();
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
      payload: new URLSearchParams(fields).toString(),
    });
    const loc = redirectParams(res);
    expect(loc.get('access_token')).toBeTruthy();
    expect(loc.get('code')).toBeNull();
  });
});
