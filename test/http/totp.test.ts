// TOTP second factor (issue 17), end to end over app.inject: enrolment through the account API, the
// second step of every password sign-in (API, hosted /login, /authorize), the code rules (±1 step,
// one use per step, recovery codes once, attempts, lockout), and how the tokens say it (amr/acr).
// Codes are computed with the otpauth library from the secret the API (or the page) hands out.
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA } from '../../src/domain/oidc/auth-context.js';
import { FixedClock, MINUTE, SECOND } from '../../src/lib/clock.js';
import { decrypt, deriveKey, encrypt } from '../../src/lib/crypto.js';
import { createTestContext, TEST_SECRET, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, FORM } from '../helpers/http.js';
import { authorizeQuery, basicAuth, hiddenFieldsOf, pkcePair, postForm } from '../helpers/oidc.js';

let ctx: TestContext;
let clock: FixedClock;
beforeAll(async () => {
  // A clock of our own, set in the middle of a 30 s step so that ±1 step is exact.
  clock = new FixedClock(Math.floor(Date.now() / 30_000) * 30_000 + 15_000);
  // The per-email failure limit is lifted so the per-session, per-user and lockout rules can each be reached.
  ctx = await createTestContext({ clock, env: { KEYMASTER_RATE_LIMIT_EMAIL: '100' } });
});
afterAll(async () => {
  await ctx.close();
});

const STEP = 30 * SECOND;
const db = () => ctx.deps.db;

function codeAt(secret: string, offsetSteps = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
  return totp.generate({ timestamp: clock.now().getTime() + offsetSteps * STEP });
}

async function api(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, token?: string) {
  return ctx.app.inject({
    method,
    url,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
  });
}

interface Enrolled {
  appId: string;
  clientSecret: string;
  userId: string;
  email: string;
  password: string;
  secret: string;
  recoveryCodes: string[];
  accessToken: string;
}

/** A user with TOTP on, enrolled through the API; the clock is then one step on (the confirming step is spent). */
async function enrolled(): Promise<Enrolled> {
  const { app, clientSecret } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps);
  const login = await api('POST', '/api/v1/auth/login', { email: user.email, password, app_id: app.appId });
  expect(login.statusCode, login.body).toBe(200);
  const accessToken = login.json().access_token as string;
  const setup = await api('POST', '/api/v1/auth/totp/setup', undefined, accessToken);
  expect(setup.statusCode, setup.body).toBe(200);
  const { secret, otpauth_url, qr } = setup.json();
  expect(otpauth_url).toMatch(/^otpauth:\/\/totp\//);
  expect(otpauth_url).toContain(`secret=${secret}`);
  expect(otpauth_url).toMatch(/algorithm=SHA1&digits=6&period=30/);
  expect(qr).toMatch(/^data:image\/svg\+xml;base64,/);
  expect(Buffer.from(qr.split(',')[1], 'base64').toString()).toMatch(/^<svg/);
  const confirm = await api('POST', '/api/v1/auth/totp/confirm', { code: codeAt(secret) }, accessToken);
  expect(confirm.statusCode, confirm.body).toBe(200);
  const recoveryCodes = confirm.json().recovery_codes as string[];
  clock.advance(STEP);
  return { appId: app.appId, clientSecret, userId: user.id, email: user.email, password, secret, recoveryCodes, accessToken };
}

async function apiLogin(u: Enrolled) {
  return api('POST', '/api/v1/auth/login', { email: u.email, password: u.password, app_id: u.appId });
}
async function totpSessionOf(u: Enrolled): Promise<string> {
  const res = await apiLogin(u);
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json()).toEqual({ status: 'totp_required', totp_session: expect.any(String) });
  return res.json().totp_session as string;
}
const verify = (totp_session: string, code: string) => api('POST', '/api/v1/auth/totp/verify', { totp_session, code });
const refreshTokenCount = async (userId: string) =>
  Number(
    (
      await db()
        .selectFrom('refresh_tokens')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('enrolment (account API)', () => {
  it('setup keeps a pending, encrypted secret; confirm turns it on with ten hashed single-use recovery codes', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const token = (await api('POST', '/api/v1/auth/login', { email: user.email, password, app_id: app.appId })).json().access_token;
    expect((await api('POST', '/api/v1/auth/totp/setup')).statusCode).toBe(401);
    const { secret } = (await api('POST', '/api/v1/auth/totp/setup', undefined, token)).json();
    const pending = await db().selectFrom('user_totp').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    expect(pending).toMatchObject({ secret: null, enabled_at: null });
    // Encrypted at rest (AES-GCM under the server secret, bound to the user), never in the clear.
    expect(pending.pending_secret).not.toContain(secret);
    expect(decrypt(deriveKey(TEST_SECRET, 'totp-secret'), pending.pending_secret!, `totp:${user.id}`)).toBe(secret);

    // A wrong code confirms nothing.
    const wrong = await api('POST', '/api/v1/auth/totp/confirm', { code: codeAt(secret, 3) }, token);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ detail: 'Invalid TOTP code' });
    expect(await db().selectFrom('user_totp').select('secret').where('user_id', '=', user.id).executeTakeFirstOrThrow()).toEqual({
      secret: null,
    });

    const ok = await api('POST', '/api/v1/auth/totp/confirm', { code: codeAt(secret) }, token);
    expect(ok.statusCode, ok.body).toBe(200);
    const codes = ok.json().recovery_codes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const row = await db().selectFrom('user_totp').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.pending_secret).toBeNull();
    expect(row.enabled_at).not.toBeNull();
    expect(row.last_step).toBe(Math.floor(clock.now().getTime() / STEP));
    const stored = await db().selectFrom('totp_recovery_codes').selectAll().where('user_id', '=', user.id).execute();
    expect(stored).toHaveLength(10);
    for (const c of codes) expect(stored.some((s) => s.code_hash.includes(c) || s.code_hash.includes(c.replace('-', '')))).toBe(false);
    // Once on, setup cannot replace the active secret.
    const again = await api('POST', '/api/v1/auth/totp/setup', undefined, token);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({ detail: 'TOTP is already enabled' });
    const events = await db().selectFrom('audit_events').select('event').where('user_id', '=', user.id).execute();
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['totp.setup', 'totp.enabled']));
    clock.advance(STEP);
  });

  it('disabling needs a fresh factor: a current code, a recovery code or the password', async () => {
    const u = await enrolled();
    const none = await api('DELETE', '/api/v1/auth/totp', {}, u.accessToken);
    expect(none.statusCode).toBe(400);
    const wrongCode = await api(
      'DELETE',
      '/api/v1/auth/totp',
      { code: '000000' === codeAt(u.secret) ? '111111' : '000000' },
      u.accessToken,
    );
    expect(wrongCode.statusCode).toBe(401);
    expect(wrongCode.json()).toEqual({ detail: 'Invalid TOTP code' });
    const wrongPassword = await api('DELETE', '/api/v1/auth/totp', { password: 'not-it' }, u.accessToken);
    expect(wrongPassword.statusCode).toBe(400);
    expect(wrongPassword.json()).toEqual({ detail: 'Current password is incorrect' });
    expect(await db().selectFrom('user_totp').select('user_id').where('user_id', '=', u.userId).executeTakeFirst()).toBeDefined();

    // New recovery codes with a current code: the old ones stop working.
    const regen = await api('POST', '/api/v1/auth/totp/recovery-codes', { code: codeAt(u.secret) }, u.accessToken);
    expect(regen.statusCode, regen.body).toBe(200);
    const fresh = regen.json().recovery_codes as string[];
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(u.recoveryCodes[0]);
    expect((await verify(await totpSessionOf(u), u.recoveryCodes[0]!)).statusCode).toBe(401);

    const off = await api('DELETE', '/api/v1/auth/totp', { password: u.password }, u.accessToken);
    expect(off.statusCode, off.body).toBe(200);
    expect(await db().selectFrom('user_totp').select('user_id').where('user_id', '=', u.userId).executeTakeFirst()).toBeUndefined();
    expect(await db().selectFrom('totp_recovery_codes').select('id').where('user_id', '=', u.userId).execute()).toEqual([]);
    // The password alone signs in again.
    const login = await apiLogin(u);
    expect(login.json()).toHaveProperty('access_token');
    expect((await api('DELETE', '/api/v1/auth/totp', { password: u.password }, u.accessToken)).statusCode).toBe(400);
  });
});

describe('API sign-in with TOTP on', () => {
  it('a password alone yields no tokens; the code does, once', async () => {
    const u = await enrolled();
    const before = await refreshTokenCount(u.userId);
    const session = await totpSessionOf(u);
    expect(await refreshTokenCount(u.userId)).toBe(before);
    const ok = await verify(session, codeAt(u.secret));
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ token_type: 'bearer', user: { id: u.userId } });
    expect(await refreshTokenCount(u.userId)).toBe(before + 1);
    // The session is spent, even with the next step's code.
    clock.advance(STEP);
    const reused = await verify(session, codeAt(u.secret));
    expect(reused.statusCode).toBe(400);
    expect(reused.json()).toEqual({ detail: 'Invalid or expired TOTP session' });
  });

  it('a time step once used is never accepted again, nor an earlier one', async () => {
    const u = await enrolled();
    const code = codeAt(u.secret);
    expect((await verify(await totpSessionOf(u), code)).statusCode).toBe(200);
    const replay = await verify(await totpSessionOf(u), code);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toEqual({ detail: 'Invalid TOTP code' });
    // The previous step is within the window, but before the step just used.
    expect((await verify(await totpSessionOf(u), codeAt(u.secret, -1))).statusCode).toBe(401);
    const row = await db().selectFrom('user_totp').select('last_step').where('user_id', '=', u.userId).executeTakeFirstOrThrow();
    expect(row.last_step).toBe(Math.floor(clock.now().getTime() / STEP));
  });

  it('accepts ±1 step of drift and refuses ±2', async () => {
    const u = await enrolled();
    clock.advance(2 * STEP);
    expect((await verify(await totpSessionOf(u), codeAt(u.secret, -2))).statusCode).toBe(401);
    expect((await verify(await totpSessionOf(u), codeAt(u.secret, +2))).statusCode).toBe(401);
    expect((await verify(await totpSessionOf(u), codeAt(u.secret, -1))).statusCode).toBe(200);
    expect((await verify(await totpSessionOf(u), codeAt(u.secret, +1))).statusCode).toBe(200);
    clock.advance(2 * STEP);
  });

  it('refuses an expired, forged, tampered or another user’s totp_session with 400', async () => {
    const u = await enrolled();
    const other = await enrolled();
    const invalid = { detail: 'Invalid or expired TOTP session' };
    const expired = await totpSessionOf(u);
    clock.advance(5 * MINUTE + SECOND);
    const late = await verify(expired, codeAt(u.secret));
    expect(late.statusCode).toBe(400);
    expect(late.json()).toEqual(invalid);
    expect((await verify('v1.forged.session.value', codeAt(u.secret))).json()).toEqual(invalid);
    const good = await totpSessionOf(u);
    const tampered = good.slice(0, -3) + (good.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await verify(tampered, codeAt(u.secret))).statusCode).toBe(400);
    // A session sealed with the server's own key naming another user for this challenge: the
    // challenge row is bound to its user, so nothing signs in.
    const key = deriveKey(TEST_SECRET, 'totp-session');
    const claims = JSON.parse(decrypt(key, good, 'totp-session'));
    const swapped = encrypt(key, JSON.stringify({ ...claims, u: other.userId }), 'totp-session');
    const res = await verify(swapped, codeAt(other.secret));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual(invalid);
    // Refusals spent nothing: the real session still works.
    expect((await verify(good, codeAt(u.secret))).statusCode).toBe(200);
  });

  it('a recovery code stands in for a code, once', async () => {
    const u = await enrolled();
    const recovery = u.recoveryCodes[3]!;
    const ok = await verify(await totpSessionOf(u), recovery.toUpperCase());
    expect(ok.statusCode, ok.body).toBe(200);
    const row = await db()
      .selectFrom('totp_recovery_codes')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('user_id', '=', u.userId)
      .where('used_at', 'is not', null)
      .executeTakeFirstOrThrow();
    expect(Number(row.n)).toBe(1);
    const again = await verify(await totpSessionOf(u), recovery);
    expect(again.statusCode).toBe(401);
    const audit = await db()
      .selectFrom('audit_events')
      .select('data')
      .where('user_id', '=', u.userId)
      .where('event', '=', 'login.second_factor')
      .execute();
    expect(audit.map((a) => (a.data as { method: string }).method)).toEqual(['recovery_code']);
  });

  it('wrong codes: 5 per session then 429, 10 per user, and they count toward the lockout', async () => {
    const u = await enrolled();
    const wrong = codeAt(u.secret, 5);
    const first = await totpSessionOf(u);
    for (let i = 0; i < 5; i++) expect((await verify(first, wrong)).statusCode).toBe(401);
    const limited = await verify(first, codeAt(u.secret));
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: 'rate_limited', detail: 'Too many TOTP attempts' });
    let user = await db()
      .selectFrom('users')
      .select(['failed_logins', 'locked_until'])
      .where('id', '=', u.userId)
      .executeTakeFirstOrThrow();
    // The password's success reset the count; the five wrong codes then counted as wrong passwords do.
    expect(user.failed_logins).toBe(5);
    // A second sign-in (the password again): five more wrong codes reach the per-user limit (10 per
    // 15 min) and the lockout threshold (10), whatever the password's success reset.
    const second = await totpSessionOf(u);
    for (let i = 0; i < 5; i++) expect((await verify(second, wrong)).statusCode).toBe(401);
    user = await db().selectFrom('users').select(['failed_logins', 'locked_until']).where('id', '=', u.userId).executeTakeFirstOrThrow();
    expect(user.failed_logins).toBe(10);
    expect(user.locked_until).not.toBeNull();
    const perUser = await verify(second, codeAt(u.secret));
    expect(perUser.statusCode).toBe(429);
    expect(perUser.json()).toMatchObject({ detail: 'Too many TOTP attempts' });
    const locked = await apiLogin(u);
    expect(locked.statusCode).toBe(403);
    expect(locked.json()).toEqual({ detail: 'Account is locked' });
  });
});

describe('hosted sign-in with TOTP on', () => {
  const loginUrl = (appId: string) => `/login?app_id=${appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=s-42`;

  /** Posts a page's form with its hidden fields, CSRF token and cookies. */
  async function submit(page: { body: string }, cookies: Record<string, string>, action: string, fields: Record<string, string>) {
    const payload = new URLSearchParams({ ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), ...fields }).toString();
    return ctx.app.inject({ method: 'POST', url: action, headers: { ...FORM, cookie: cookieHeader(cookies) }, payload });
  }

  it('/login: the password shows the code page (no session, no tokens); the code continues to the app', async () => {
    const u = await enrolled();
    const page = await ctx.app.inject({ url: loginUrl(u.appId) });
    const cookies = cookiesOf(page);
    const sessionsBefore = await db().selectFrom('sessions').select('id').where('user_id', '=', u.userId).execute();
    const afterPassword = await submit(page, cookies, '/login', { email: u.email, password: u.password });
    expect(afterPassword.statusCode).toBe(200);
    expect(afterPassword.headers.location).toBeUndefined();
    expect(cookiesOf(afterPassword)).not.toHaveProperty('km_sso');
    expect(afterPassword.body).toContain('Enter the code from your authenticator app');
    expect(afterPassword.body).toContain('action="/login/totp"');
    expect(afterPassword.body).toContain('autocomplete="one-time-code"');
    expect(afterPassword.body).not.toMatch(/<script(?![^>]*src=)|style="/);
    expect(hiddenFieldsOf(afterPassword.body)).toMatchObject({ app_id: u.appId, state: 's-42', totp_session: expect.any(String) });
    expect(await db().selectFrom('sessions').select('id').where('user_id', '=', u.userId).execute()).toEqual(sessionsBefore);

    // A wrong code: the page again, 401, the pending sign-in kept.
    const wrong = await submit(afterPassword, cookies, '/login/totp', { code: codeAt(u.secret, 4) });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('role="alert"');
    expect(hiddenFieldsOf(wrong.body).totp_session).toBe(hiddenFieldsOf(afterPassword.body).totp_session);

    const done = await submit(wrong, cookies, '/login/totp', { code: codeAt(u.secret) });
    expect(done.statusCode, done.body).toBe(303);
    const back = new URL(done.headers.location as string);
    expect(back.origin + back.pathname).toBe(DEFAULT_REDIRECT);
    expect(back.searchParams.get('state')).toBe('s-42');
    expect(back.searchParams.get('access_token')).toBeTruthy();
    expect(cookiesOf(done)).toHaveProperty('km_sso');
    const session = await db()
      .selectFrom('sessions')
      .select('amr')
      .where('user_id', '=', u.userId)
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    expect(session.amr).toBe('pwd otp');
    // Without CSRF the code page refuses.
    const noCsrf = await ctx.app.inject({
      method: 'POST',
      url: '/login/totp',
      headers: FORM,
      payload: new URLSearchParams({ ...hiddenFieldsOf(afterPassword.body), code: codeAt(u.secret, 1) }).toString(),
    });
    expect(noCsrf.statusCode).toBe(403);
  });

  it('/login: a recovery code from the "use a recovery code" field signs in, once', async () => {
    const u = await enrolled();
    const page = await ctx.app.inject({ url: loginUrl(u.appId) });
    const cookies = cookiesOf(page);
    const codePage = await submit(page, cookies, '/login', { email: u.email, password: u.password });
    expect(codePage.body).toContain('name="recovery_code"');
    const done = await submit(codePage, cookies, '/login/totp', { recovery_code: u.recoveryCodes[0]! });
    expect(done.statusCode, done.body).toBe(303);
    const page2 = await ctx.app.inject({ url: `${loginUrl(u.appId)}&prompt=login` });
    const codePage2 = await submit(page2, cookiesOf(page2), '/login', { email: u.email, password: u.password });
    const refused = await submit(codePage2, cookiesOf(page2), '/login/totp', { recovery_code: u.recoveryCodes[0]! });
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toMatch(/<details open/);
  });

  it('/authorize: the code page keeps the sealed request; the ID token says amr ["pwd","otp"] and the MFA acr', async () => {
    const u = await enrolled();
    const { verifier, challenge } = pkcePair();
    const page = await ctx.app.inject({
      url: `/authorize?${authorizeQuery(u.appId, { code_challenge: challenge, code_challenge_method: 'S256' })}`,
    });
    expect(page.statusCode).toBe(200);
    const cookies = cookiesOf(page);
    const codesBefore = await db().selectFrom('authorization_codes').select('code_hash').where('user_id', '=', u.userId).execute();
    const codePage = await submit(page, cookies, '/login', { email: u.email, password: u.password });
    expect(codePage.statusCode).toBe(200);
    expect(hiddenFieldsOf(codePage.body).authz).toBe(hiddenFieldsOf(page.body).authz);
    expect(await db().selectFrom('authorization_codes').select('code_hash').where('user_id', '=', u.userId).execute()).toEqual(codesBefore);
    expect(cookiesOf(codePage)).not.toHaveProperty('km_sso');

    // The totp_session is bound to the pending request: another request's authz is refused.
    const otherPage = await ctx.app.inject({ url: `/authorize?${authorizeQuery(u.appId, { state: 'other' })}` });
    const swapped = await submit(codePage, cookies, '/login/totp', {
      code: codeAt(u.secret),
      authz: hiddenFieldsOf(otherPage.body).authz!,
    });
    expect(swapped.statusCode).toBe(400);
    expect(swapped.body).toContain('This sign-in has expired or was already used.');
    expect(swapped.body).toMatch(/href="https:\/\/app\.example\.com\/callback\?error=access_denied/);

    const done = await submit(codePage, cookies, '/login/totp', { code: codeAt(u.secret) });
    expect(done.statusCode, done.body).toBe(303);
    const callback = new URL(done.headers.location as string);
    expect(callback.searchParams.get('state')).toBe('st-1');
    const code = callback.searchParams.get('code')!;
    const row = await db()
      .selectFrom('authorization_codes')
      .select('amr')
      .where('user_id', '=', u.userId)
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    expect(row.amr).toBe('pwd otp');
    const res = await postForm(
      ctx,
      '/token',
      { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier },
      { authorization: basicAuth(u.appId, u.clientSecret) },
    );
    expect(res.statusCode, res.body).toBe(200);
    const { payload } = await jwtVerify(res.json().id_token, createLocalJWKSet(JSON.parse(ctx.deps.keys.jwksBody)), {
      issuer: ctx.deps.config.issuer,
      audience: u.appId,
      currentDate: clock.now(),
    });
    expect(payload).toMatchObject({ sub: u.userId, amr: ['pwd', 'otp'], acr: ACR_MFA, nonce: 'n-1' });
    const doc = (await ctx.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(doc.acr_values_supported).toContain(ACR_MFA);
  });
});

describe('session-only sign-ins with TOTP on (/account)', () => {
  it('the account page sign-in asks for the code before it opens a session', async () => {
    const u = await enrolled();
    const page = await ctx.app.inject({ url: '/account/sign-in' });
    const cookies = cookiesOf(page);
    const post = (url: string, body: { body: string }, fields: Record<string, string>) =>
      ctx.app.inject({
        method: 'POST',
        url,
        headers: { ...FORM, cookie: cookieHeader(cookies) },
        payload: new URLSearchParams({ ...hiddenFieldsOf(body.body), _csrf: csrfTokenOf(body.body), ...fields }).toString(),
      });
    const codePage = await post('/account/sign-in', page, { email: u.email, password: u.password });
    expect(codePage.statusCode).toBe(200);
    expect(cookiesOf(codePage)).not.toHaveProperty('km_sso');
    expect(codePage.body).toContain('action="/account/sign-in/totp"');
    // A /login totp_session is not an /account one, and the other way round.
    const wrongPurpose = await ctx.app.inject({
      method: 'POST',
      url: '/login/totp',
      headers: { ...FORM, cookie: cookieHeader(cookies) },
      payload: new URLSearchParams({
        _csrf: csrfTokenOf(codePage.body),
        app_id: u.appId,
        redirect_uri: DEFAULT_REDIRECT,
        totp_session: hiddenFieldsOf(codePage.body).totp_session!,
        code: codeAt(u.secret),
      }).toString(),
    });
    expect(wrongPurpose.statusCode).toBe(400);
    const done = await post('/account/sign-in/totp', codePage, { code: codeAt(u.secret) });
    expect(done.statusCode, done.body).toBe(303);
    expect(done.headers.location).toBe('/account');
    expect(cookiesOf(done)).toHaveProperty('km_sso');
    const session = await db()
      .selectFrom('sessions')
      .select('amr')
      .where('user_id', '=', u.userId)
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    expect(session.amr).toBe('pwd otp');
    const account = await ctx.app.inject({ url: '/account', headers: { cookie: cookieHeader({ ...cookies, ...cookiesOf(done) }) } });
    expect(account.statusCode).toBe(200);
    expect(account.body).toContain('Two-step verification is on.');
    expect(account.body).toContain('action="/account/totp/disable"');
  });
});
