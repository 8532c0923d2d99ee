// DESIGN.md §4.10, table-driven: every endpoint × every evil value → never a 500, no stack trace or
// internal text, no header injection, HTML escaped, and no table changed (rate_limits and
// audit_events excepted: counting and recording a failed attempt is the point of those two).
//
// To cover a new endpoint, add a row to ENDPOINTS: a name and a function from an evil value to an
// inject() request. `fx` holds a valid app, user, refresh token, CSRF token and cookie to build on.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_CODE_GRANT, type App } from '../../src/domain/apps/apps.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_LOGOUT, DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, form, FORM } from '../helpers/http.js';
import { countAllRows, openLoginPage, signInThroughForm, withoutTables } from '../helpers/security.js';

/** Strings every text field must survive. */
export const EVIL_STRINGS: string[] = [
  '',
  ' ',
  'x'.repeat(100_000),
  '\u0000',
  'a\u0000b',
  '\r\nSet-Cookie: evil=1',
  'https://app.example.com/callback\r\nLocation: https://evil.example',
  '%0d%0aSet-Cookie:%20evil=1',
  "' OR '1'='1' --",
  "'; DROP TABLE users; --",
  '1; SELECT pg_sleep(5)',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "javascript:alert('x')",
  '<%= it.constructor.constructor("return process")().exit() %>',
  '${7*7}{{7*7}}',
  '\uD800',
  '\u202Egnp.exe',
  'Ａ\u0301\uFEFF\u200B𝕏',
  '../../../../etc/passwd',
  'https://evil.example/callback',
  'https://app.example.com/callback?x=1',
  'https://app.example.com/callback/../evil',
  '//evil.example',
];
/** Non-string JSON values for JSON bodies (wrong types). */
export const EVIL_JSON: unknown[] = [null, 0, -1, 1e308, true, [], ['a'], {}, { $ne: null }, { toString: 'x' }, '__proto__'];

interface Fixtures {
  app: App;
  email: string;
  refreshToken: string;
  csrf: string;
  cookies: Record<string, string>;
}

type Row = { name: string; json?: boolean; build: (v: unknown, fx: Fixtures) => InjectOptions };

const q = (v: unknown) => {
  const s = String(v);
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80'; // a lone surrogate: invalid UTF-8 on the wire
  }
};
const formPost = (url: string, fx: Fixtures, fields: Record<string, unknown>): InjectOptions => ({
  method: 'POST',
  url,
  headers: { ...FORM, cookie: cookieHeader(fx.cookies) },
  payload: form(
    Object.fromEntries(Object.entries({ _csrf: fx.csrf, ...fields }).map(([k, v]) => [k, v === undefined ? undefined : String(v)])),
  ),
});
const loginFields = (fx: Fixtures) => ({
  app_id: fx.app.appId,
  redirect_uri: DEFAULT_REDIRECT,
  email: fx.email,
  password: 'not-the-password',
});

export const ENDPOINTS: Row[] = [
  { name: 'GET /login app_id', build: (v) => ({ url: `/login?app_id=${q(v)}&redirect_uri=${q(DEFAULT_REDIRECT)}` }) },
  { name: 'GET /login redirect_uri', build: (v, fx) => ({ url: `/login?app_id=${fx.app.appId}&redirect_uri=${q(v)}` }) },
  {
    name: 'GET /login state',
    build: (v, fx) => ({ url: `/login?app_id=${fx.app.appId}&redirect_uri=${q(DEFAULT_REDIRECT)}&state=${q(v)}` }),
  },
  {
    name: 'GET /login prompt + login_hint',
    build: (v, fx) => ({ url: `/login?app_id=${fx.app.appId}&redirect_uri=${q(DEFAULT_REDIRECT)}&prompt=${q(v)}&login_hint=${q(v)}` }),
  },
  {
    name: 'GET /login km_sso cookie',
    build: (v, fx) => ({ url: `/login?app_id=${fx.app.appId}&redirect_uri=${q(DEFAULT_REDIRECT)}`, headers: { cookie: `km_sso=${q(v)}` } }),
  },
  { name: 'POST /login email', build: (v, fx) => formPost('/login', fx, { ...loginFields(fx), email: v }) },
  { name: 'POST /login password', build: (v, fx) => formPost('/login', fx, { ...loginFields(fx), password: v }) },
  { name: 'POST /login state', build: (v, fx) => formPost('/login', fx, { ...loginFields(fx), state: v }) },
  { name: 'POST /login app_id', build: (v, fx) => formPost('/login', fx, { ...loginFields(fx), app_id: v }) },
  { name: 'POST /login redirect_uri', build: (v, fx) => formPost('/login', fx, { ...loginFields(fx), redirect_uri: v }) },
  { name: 'POST /login _csrf', build: (v, fx) => formPost('/login', fx, { ...loginFields(fx), _csrf: v }) },
  { name: 'GET /sso/logout app_id', build: (v) => ({ url: `/sso/logout?app_id=${q(v)}` }) },
  {
    name: 'GET /sso/logout post_logout_redirect_uri + state',
    build: (v, fx) => ({ url: `/sso/logout?app_id=${fx.app.appId}&post_logout_redirect_uri=${q(v)}&state=${q(v)}` }),
  },
  {
    name: 'GET /sso/logout state (registered uri)',
    build: (v, fx) => ({ url: `/sso/logout?app_id=${fx.app.appId}&post_logout_redirect_uri=${q(DEFAULT_LOGOUT)}&state=${q(v)}` }),
  },
  {
    name: 'POST /sso/logout post_logout_redirect_uri',
    build: (v, fx) =>
      formPost(
        '/sso/logout',
        { ...fx, cookies: { ...fx.cookies, km_sso: 'x' } },
        { app_id: fx.app.appId, post_logout_redirect_uri: v, state: v },
      ),
  },
  {
    name: 'POST /token/refresh refresh_token',
    json: true,
    build: (v, fx) => ({ method: 'POST', url: '/token/refresh', payload: { refresh_token: v, app_id: fx.app.appId } }),
  },
  {
    name: 'POST /token/refresh app_id',
    json: true,
    build: (v, fx) => ({ method: 'POST', url: '/token/refresh', payload: { refresh_token: fx.refreshToken, app_id: v } }),
  },
  {
    name: 'POST /token/revoke refresh_token',
    json: true,
    build: (v) => ({ method: 'POST', url: '/token/revoke', payload: { refresh_token: v } }),
  },
  {
    name: 'POST /token/revoke app_id',
    json: true,
    build: (v) => ({ method: 'POST', url: '/token/revoke', payload: { refresh_token: 'a'.repeat(64), app_id: v } }),
  },
  // Wave 2: OIDC provider, token endpoints, account API and pages, Google upstream.
  ...['redirect_uri', 'state', 'login_hint', 'scope', 'code_challenge', 'nonce'].map((field): Row => ({
    name: `GET /authorize ${field}`,
    build: (v, fx) => ({
      url: `/authorize?${new URLSearchParams({ response_type: 'code', client_id: fx.app.appId, redirect_uri: DEFAULT_REDIRECT, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's' })}&${field}=${q(v)}`,
    }),
  })),
  {
    name: 'POST /authorize redirect_uri + state',
    build: (v, fx) => ({
      method: 'POST',
      url: '/authorize',
      headers: FORM,
      payload: form({ response_type: 'code', client_id: fx.app.appId, redirect_uri: String(v), state: String(v), scope: 'openid' }),
    }),
  },
  ...(
    [
      ['authorization_code', ['code', 'redirect_uri', 'code_verifier', 'client_secret']],
      ['refresh_token', ['refresh_token', 'scope', 'client_secret']],
      ['client_credentials', ['scope', 'client_secret', 'audience']],
      [DEVICE_CODE_GRANT, ['device_code', 'client_secret']],
      [undefined, ['grant_type', 'client_id']],
    ] as const
  ).flatMap(([grant, fields]) =>
    ['/token', '/auth/token'].flatMap((url) =>
      fields.map((field): Row => ({
        name: `POST ${url} ${grant ?? ''} ${field}`,
        build: (v, fx) => ({
          method: 'POST',
          url,
          headers: FORM,
          payload: `${form({ grant_type: grant ?? 'authorization_code', client_id: fx.app.appId, client_secret: 'x' })}&${field}=${q(v)}`,
        }),
      })),
    ),
  ),
  // RFC 8628: the device authorization endpoint and the /device pages.
  ...['scope', 'resource', 'client_id', 'client_secret'].map((field): Row => ({
    name: `POST /device_authorization ${field}`,
    build: (v, fx) => ({
      method: 'POST',
      url: '/device_authorization',
      headers: FORM,
      payload: `${form({ scope: 'openid', client_id: fx.app.appId, client_secret: 'x' })}&${field}=${q(v)}`,
    }),
  })),
  { name: 'GET /device user_code', build: (v) => ({ url: `/device?user_code=${q(v)}` }) },
  { name: 'POST /device user_code', build: (v, fx) => formPost('/device', fx, { user_code: v }) },
  { name: 'GET /device/confirm request', build: (v) => ({ url: `/device/confirm?request=${q(v)}` }) },
  { name: 'POST /device/login request + email', build: (v, fx) => formPost('/device/login', fx, { request: v, email: v, password: v }) },
  { name: 'POST /device/confirm request + decision', build: (v, fx) => formPost('/device/confirm', fx, { request: v, decision: v }) },
  ...['/introspect', '/revoke'].flatMap((url) =>
    ['token', 'token_type_hint', 'client_secret'].map((field): Row => ({
      name: `POST ${url} ${field}`,
      build: (v, fx) => ({
        method: 'POST',
        url,
        headers: FORM,
        payload: `${form({ token: 'a', client_id: fx.app.appId, client_secret: 'x' })}&${field}=${q(v)}`,
      }),
    })),
  ),
  // RFC 9126 /par and RFC 7523 client assertions (a wrong secret or a forged assertion: nothing is stored).
  ...['redirect_uri', 'scope', 'request_uri', 'claims', 'client_id', 'client_assertion_type'].map((field): Row => ({
    name: `POST /par ${field}`,
    build: (v, fx) => ({
      method: 'POST',
      url: '/par',
      headers: FORM,
      payload: `${form({ response_type: 'code', client_id: fx.app.appId, client_secret: 'x', redirect_uri: DEFAULT_REDIRECT, scope: 'openid' })}&${field}=${q(v)}`,
    }),
  })),
  ...['/token', '/par', '/introspect'].map((url): Row => ({
    name: `POST ${url} client_assertion`,
    build: (v, fx) => ({
      method: 'POST',
      url,
      headers: FORM,
      payload: `${form({ grant_type: 'client_credentials', token: 'a', response_type: 'code', client_id: fx.app.appId, redirect_uri: DEFAULT_REDIRECT, scope: 'openid', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' })}&client_assertion=${q(v)}`,
    }),
  })),
  ...['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id'].map((field): Row => ({
    name: `GET /end_session ${field}`,
    build: (v) => ({ url: `/end_session?${field}=${q(v)}` }),
  })),
  {
    name: 'POST /end_session (RP) fields',
    build: (v) => ({
      method: 'POST',
      url: '/end_session',
      headers: FORM,
      payload: form({ id_token_hint: String(v), post_logout_redirect_uri: String(v), state: String(v) }),
    }),
  },
  { name: 'POST /token/verify token', json: true, build: (v) => ({ method: 'POST', url: '/token/verify', payload: { token: v } }) },
  {
    name: 'POST /token/verify audience',
    json: true,
    build: (v) => ({ method: 'POST', url: '/token/verify', payload: { token: 'a.b.c', audience: v } }),
  },
  {
    name: 'GET /userinfo bearer',
    build: (v) => ({ url: '/userinfo', headers: { authorization: `Bearer ${String(v).replace(/[\r\n\0]/g, '')}` } }),
  },
  {
    name: 'POST /userinfo access_token',
    build: (v) => ({ method: 'POST', url: '/userinfo', headers: FORM, payload: form({ access_token: String(v) }) }),
  },
  {
    name: 'POST /api/v1/auth/login email + password',
    json: true,
    build: (v, fx) => ({ method: 'POST', url: '/api/v1/auth/login', payload: { app_id: fx.app.appId, email: v, password: v } }),
  },
  {
    name: 'POST /api/v1/auth/login app_id',
    json: true,
    build: (v, fx) => ({ method: 'POST', url: '/api/v1/auth/login', payload: { app_id: v, email: fx.email, password: 'x' } }),
  },
  {
    name: 'POST /api/v1/auth/register email',
    json: true,
    build: (v, fx) => ({ method: 'POST', url: '/api/v1/auth/register', payload: { app_id: fx.app.appId, email: v, password: v } }),
  },
  {
    name: 'POST /api/v1/auth/verify-email token',
    json: true,
    build: (v) => ({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token: v } }),
  },
  {
    name: 'POST /api/v1/auth/refresh refresh_token',
    json: true,
    build: (v) => ({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: v } }),
  },
  {
    name: 'POST /api/v1/auth/logout refresh_token',
    json: true,
    build: (v) => ({ method: 'POST', url: '/api/v1/auth/logout', payload: { refresh_token: v } }),
  },
  {
    name: 'POST /api/v1/auth/password-reset/confirm token + password',
    json: true,
    build: (v) => ({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token: v, password: v } }),
  },
  { name: 'GET /account/register query', build: (v) => ({ url: `/account/register?app_id=${q(v)}&redirect_uri=${q(v)}` }) },
  { name: 'GET /account/reset-password token', build: (v) => ({ url: `/account/reset-password?token=${q(v)}` }) },
  {
    name: 'POST /account/reset-password token + password',
    build: (v, fx) => formPost('/account/reset-password', fx, { token: v, password: v, password_confirm: v }),
  },
  { name: 'GET /login/google/callback code + state', build: (v) => ({ url: `/login/google/callback?code=${q(v)}&state=${q(v)}` }) },
  {
    name: 'GET /.well-known/jwks.json query',
    build: (v) => ({
      url: `/.well-known/jwks.json?kid=${q(v)}`,
      headers: {
        'if-none-match': String(v)
          .slice(0, 200)
          .replace(/[\r\n\0]/g, ''),
      },
    }),
  },
  { name: 'GET /healthz + /readyz query', build: (v) => ({ url: `/readyz?x=${q(v)}` }) },
];

/** Malformed bodies: not JSON, not a form, wrong content type, nesting, prototype pollution. */
export const RAW_BODIES: { name: string; url: string; headers: Record<string, string>; payload: string; status: number }[] = [
  {
    name: 'truncated JSON',
    url: '/token/refresh',
    headers: { 'content-type': 'application/json' },
    payload: '{"refresh_token":',
    status: 400,
  },
  { name: 'JSON array', url: '/token/refresh', headers: { 'content-type': 'application/json' }, payload: '[1,2]', status: 400 },
  { name: 'JSON string', url: '/token/revoke', headers: { 'content-type': 'application/json' }, payload: '"x"', status: 400 },
  {
    name: 'deep JSON',
    url: '/token/refresh',
    headers: { 'content-type': 'application/json' },
    payload: `${'['.repeat(5000)}${']'.repeat(5000)}`,
    status: 400,
  },
  {
    name: '__proto__ JSON',
    url: '/token/refresh',
    headers: { 'content-type': 'application/json' },
    payload: '{"__proto__":{"admin":true},"refresh_token":"a","app_id":"b"}',
    status: 400,
  },
  {
    name: 'constructor.prototype JSON',
    url: '/token/revoke',
    headers: { 'content-type': 'application/json' },
    payload: '{"constructor":{"prototype":{"x":1}},"refresh_token":"a"}',
    status: 400,
  },
  { name: 'form body to a JSON endpoint', url: '/token/refresh', headers: FORM, payload: 'refresh_token=a&app_id=b', status: 415 },
  {
    name: 'text/plain to a JSON endpoint',
    url: '/token/revoke',
    headers: { 'content-type': 'text/plain' },
    payload: '{"refresh_token":"a"}',
    status: 415,
  },
  { name: 'no content type', url: '/token/revoke', headers: {}, payload: '{"refresh_token":"a"}', status: 415 },
  {
    name: 'JSON to a form endpoint',
    url: '/login',
    headers: { 'content-type': 'application/json' },
    payload: '{"app_id":"a","redirect_uri":"b"}',
    status: 415,
  },
  {
    name: 'multipart to a form endpoint',
    url: '/sso/logout',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    payload: '--x\r\n\r\n--x--',
    status: 415,
  },
  {
    name: 'JSON over the route body limit (413)',
    url: '/token/revoke',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ refresh_token: 'a'.repeat(20_000) }),
    status: 413,
  },
  { name: 'form over the route body limit (413)', url: '/login', headers: FORM, payload: `email=${'a'.repeat(20_000)}`, status: 413 },
  {
    name: 'JSON to /token (form endpoint)',
    url: '/token',
    headers: { 'content-type': 'application/json' },
    payload: '{"grant_type":"client_credentials"}',
    status: 415,
  },
  {
    name: 'JSON to /introspect',
    url: '/introspect',
    headers: { 'content-type': 'application/json' },
    payload: '{"token":"a"}',
    status: 415,
  },
  { name: 'JSON to /revoke', url: '/revoke', headers: { 'content-type': 'application/json' }, payload: '{"token":"a"}', status: 415 },
  { name: 'form to /token/verify (JSON endpoint)', url: '/token/verify', headers: FORM, payload: 'token=a', status: 415 },
  { name: 'form to /api/v1/auth/login', url: '/api/v1/auth/login', headers: FORM, payload: 'email=a', status: 415 },
  { name: 'form over the body limit at /token (413)', url: '/token', headers: FORM, payload: `code=${'a'.repeat(20_000)}`, status: 413 },
  {
    name: 'repeated grant_type at /token',
    url: '/token',
    headers: FORM,
    payload: 'grant_type=client_credentials&grant_type=authorization_code',
    status: 400,
  },
  { name: 'form with repeated keys', url: '/login', headers: FORM, payload: 'app_id=a&app_id=b&redirect_uri=c', status: 403 },
];

const INTERNALS = [
  /\bat .+\.(ts|js):\d+/,
  /node_modules/,
  /TypeError|ReferenceError|SyntaxError/,
  /\bFST_[A-Z_]+/,
  /kysely|pglite|postgres|syntax error at or near|relation "/i,
  /ZodError|"code":"invalid_type"/,
];

let ctx: TestContext;
let fx: Fixtures;
beforeAll(async () => {
  // Limits scaled up so every case reaches the handler instead of a 429 (the rate-limit suite tests those).
  ctx = await createTestContext({ env: { KEYMASTER_RATE_LIMIT_SCALE: '100000', KEYMASTER_LOCKOUT_THRESHOLD: '1000' } });
  const { app } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps);
  const signIn = await signInThroughForm(ctx, app.appId, user.email, password);
  const page = await openLoginPage(ctx, app.appId);
  fx = { app, email: user.email, refreshToken: signIn.refreshToken!, csrf: page.csrf, cookies: page.cookies };
});
afterAll(() => ctx.close());

function problemsWith(res: LightMyRequestResponse, value: unknown): string[] {
  const out: string[] = [];
  if (res.statusCode >= 500) out.push(`status ${res.statusCode}`);
  for (const re of INTERNALS) if (re.test(res.body)) out.push(`internal text ${re}`);
  for (const [name, h] of Object.entries(res.headers)) {
    const text = Array.isArray(h) ? h.join('\n') : String(h);
    if (/[\r\n\0]/.test(text)) out.push(`control character in header ${name}`);
  }
  if (res.cookies.some((c) => c.name === 'evil')) out.push('injected cookie');
  if (typeof res.headers.location === 'string' && /evil\.example/.test(new URL(res.headers.location, 'http://x').host))
    out.push('redirect to evil.example');
  const s = typeof value === 'string' ? value : '';
  if (/[<>"]/.test(s) && res.body.includes(s)) out.push('value reflected unescaped');
  return out;
}

describe('bad input on every endpoint', () => {
  for (const row of ENDPOINTS) {
    it(`${row.name}: never 500, no internals, nothing written, escaped`, async () => {
      const values = row.json ? [...EVIL_STRINGS, ...EVIL_JSON] : EVIL_STRINGS;
      const failures: string[] = [];
      for (const value of values) {
        const before = withoutTables(await countAllRows(ctx.deps.db), 'rate_limits', 'audit_events');
        const res = await ctx.app.inject(row.build(value, fx));
        const after = withoutTables(await countAllRows(ctx.deps.db), 'rate_limits', 'audit_events');
        const label = JSON.stringify(value)?.slice(0, 60);
        for (const p of problemsWith(res, value)) failures.push(`${label}: ${p}`);
        if (JSON.stringify(after) !== JSON.stringify(before))
          failures.push(`${label}: rows changed ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
      }
      expect(failures).toEqual([]);
    });
  }

  for (const b of RAW_BODIES) {
    it(`malformed body: ${b.name} → ${b.status}`, async () => {
      const before = await countAllRows(ctx.deps.db);
      const res = await ctx.app.inject({
        method: 'POST',
        url: b.url,
        headers: { ...b.headers, cookie: cookieHeader(fx.cookies) },
        payload: b.payload,
      });
      expect(res.statusCode).toBe(b.status);
      expect(problemsWith(res, b.payload)).toEqual([]);
      expect(await countAllRows(ctx.deps.db)).toEqual(before);
      expect(({} as Record<string, unknown>).admin).toBeUndefined();
    });
  }
});

describe('passwords over 1 KB are refused before argon2 runs', () => {
  for (const [name, password] of [
    ['1025 ASCII bytes', 'a'.repeat(1025)],
    ['400 three-byte characters (1200 bytes, 400 chars)', '€'.repeat(400)],
  ] as const) {
    it(`${name} → 400, and authenticatePassword never ran (no failure counted, no audit event)`, async () => {
      const before = await countAllRows(ctx.deps.db);
      const res = await ctx.app.inject(formPost('/login', fx, { ...loginFields(fx), password }));
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain('password');
      // authenticatePassword writes a login_failures_email counter and a login.failure audit row on
      // every wrong password before returning; neither exists, so argon2 was never reached.
      expect(await countAllRows(ctx.deps.db)).toEqual(before);
    });
  }

  it('exactly 1024 bytes is still checked (a wrong password: 401 and a counted failure)', async () => {
    const before = await countAllRows(ctx.deps.db);
    const res = await ctx.app.inject(formPost('/login', fx, { ...loginFields(fx), password: 'a'.repeat(1024) }));
    expect(res.statusCode).toBe(401);
    expect((await countAllRows(ctx.deps.db)).audit_events).toBe(before.audit_events! + 1);
  });
});

describe('XSS in app names and reflected parameters is escaped', () => {
  for (const name of ['<script>alert(1)</script>', '"><svg onload=alert(1)>', "</title><style>*{}</style>'"]) {
    it(`app name ${JSON.stringify(name)}`, async () => {
      const { app } = await makeApp(ctx.deps, { name });
      const state = '"><script>alert(2)</script>';
      const res = await ctx.app.inject({ url: `/login?app_id=${app.appId}&redirect_uri=${q(DEFAULT_REDIRECT)}&state=${q(state)}` });
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain(name);
      expect(res.body).not.toContain(state);
      expect(res.body).toContain(
        name.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;'),
      );
    });
  }
});
