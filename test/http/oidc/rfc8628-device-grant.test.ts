// OAuth 2.0 Device Authorization Grant (RFC 8628), named after its sections: the device's request
// (§3.1-3.2), the user's code entry, sign-in and decision on /device (§3.3, §5.4), the device's polls
// (§3.4-3.5), the user-code throttle (§5.1), the config switch, discovery (§4) and housekeeping. Each
// test asserts the response and the rows; jose verifies the tokens against the JWKS.
import { createHash } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_CODE_GRANT, type AppInput } from '../../../src/domain/apps/apps.js';
import { pruneExpired } from '../../../src/domain/housekeeping/prune.js';
import { DAY, SECOND, type FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, FORM, form } from '../../helpers/http.js';
import { basicAuth, hiddenFieldsOf, postForm } from '../../helpers/oidc.js';

let ctx: TestContext;
const clock = () => ctx.clock as FixedClock;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

const sha256 = (v: string) => createHash('sha256').update(v).digest('hex');
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

async function setup(input: Partial<AppInput> = {}) {
  const { app, clientSecret } = await makeApp(ctx.deps, {
    grantTypes: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
    allowedScopes: ['openid', 'profile', 'email', 'offline_access'],
    ...input,
  });
  const { user, password } = await makeUser(ctx.deps);
  const auth: Record<string, string> = app.clientType === 'public' ? {} : { authorization: basicAuth(app.appId, clientSecret) };
  const body = (extra: Record<string, string> = {}) => (app.clientType === 'public' ? { client_id: app.appId, ...extra } : extra);
  const start = async (extra: Record<string, string> = {}) => {
    const res = await postForm(ctx, '/device_authorization', body({ scope: 'openid profile email offline_access', ...extra }), auth);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { device_code: string; user_code: string; verification_uri_complete: string; interval: number };
  };
  const poll = (deviceCode: string, headers = auth) =>
    postForm(ctx, '/token', body({ grant_type: DEVICE_CODE_GRANT, device_code: deviceCode }), headers);
  return { app, clientSecret, user, password, auth, start, poll };
}

const row = (deviceCode: string) =>
  ctx.deps.db.selectFrom('device_codes').selectAll().where('device_code_hash', '=', sha256(deviceCode)).executeTakeFirstOrThrow();

/** A browser: cookies kept across pages, forms posted with their CSRF token. */
class Browser {
  cookies: Record<string, string> = {};
  constructor(readonly ip = '203.0.113.7') {}
  async get(url: string) {
    const res = await ctx.app.inject({ url, headers: { cookie: cookieHeader(this.cookies) }, remoteAddress: this.ip });
    this.cookies = { ...this.cookies, ...cookiesOf(res) };
    return res;
  }
  async post(url: string, page: string, fields: Record<string, string>) {
    const res = await ctx.app.inject({
      method: 'POST',
      url,
      headers: { ...FORM, cookie: cookieHeader(this.cookies) },
      payload: form({ ...hiddenFieldsOf(page), _csrf: csrfTokenOf(page), ...fields }),
      remoteAddress: this.ip,
    });
    this.cookies = { ...this.cookies, ...cookiesOf(res) };
    return res;
  }
  /** /device → code → (sign-in) → the confirm page. */
  async enterCode(userCode: string, creds?: { email: string; password: string }) {
    const entry = await this.get('/device');
    const next = await this.post('/device', entry.body, { user_code: userCode });
    if (!creds || !next.body.includes('action="/device/login"')) return next;
    const signedIn = await this.post('/device/login', next.body, creds);
    expect(signedIn.statusCode, signedIn.body.slice(0, 300)).toBe(303);
    return this.get(signedIn.headers.location as string);
  }
  async decide(confirmPage: string, decision: 'approve' | 'deny') {
    return this.post('/device/confirm', confirmPage, { decision });
  }
}

async function approvedDevice(s: Awaited<ReturnType<typeof setup>>, extra: Record<string, string> = {}) {
  const d = await s.start(extra);
  const browser = new Browser();
  const confirm = await browser.enterCode(d.user_code, { email: s.user.email, password: s.password });
  expect(confirm.statusCode).toBe(200);
  const done = await browser.decide(confirm.body, 'approve');
  expect(done.statusCode).toBe(200);
  return { d, browser, done, confirmPage: confirm.body };
}

async function verify(token: string, audience: string) {
  const jwks = createLocalJWKSet(JSON.parse(ctx.deps.keys.jwksBody));
  return (await jwtVerify(token, jwks, { issuer: ctx.deps.config.issuer, audience, currentDate: ctx.clock.now() })).payload;
}

describe('RFC 8628 Device Authorization Grant', () => {
  it('RFC 8628 §3.2: the response names device_code, an XXXX-XXXX user_code, the verification URIs, expires_in 600, interval 5; only hashes are stored', async () => {
    const s = await setup();
    const res = await postForm(ctx, '/device_authorization', { scope: 'openid email unknown-scope' }, s.auth);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const d = res.json();
    expect(d).toMatchObject({ verification_uri: `${ctx.deps.config.issuer}/device`, expires_in: 600, interval: 5 });
    expect(d.user_code).toMatch(USER_CODE);
    expect(d.verification_uri_complete).toBe(`${ctx.deps.config.issuer}/device?user_code=${d.user_code}`);
    const r = await row(d.device_code);
    expect(r).toMatchObject({ app_id: s.app.appId, scope: 'openid email', status: 'pending', interval_seconds: 5, user_id: null });
    expect(r.expires_at.getTime() - r.created_at.getTime()).toBe(600 * SECOND);
    // Neither code is stored in any recognisable form.
    const text = JSON.stringify(r);
    expect(text).not.toContain(d.device_code);
    expect(text).not.toContain(d.user_code.replace('-', ''));
    expect(r.user_code_hash).not.toBe(sha256(d.user_code.replace('-', '')));
  });

  it('RFC 8628 §3.1: a public client names itself with client_id; a confidential one must authenticate as at /token', async () => {
    const pub = await setup({ clientType: 'public' });
    expect((await pub.start()).user_code).toMatch(USER_CODE);
    const conf = await setup();
    const wrong = await postForm(ctx, '/device_authorization', { scope: 'openid' }, { authorization: basicAuth(conf.app.appId, 'wrong') });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error).toBe('invalid_client');
    const bare = await postForm(ctx, '/device_authorization', { client_id: conf.app.appId, scope: 'openid' });
    expect(bare.statusCode).toBe(401);
    const rows = await ctx.deps.db.selectFrom('device_codes').select('app_id').where('app_id', '=', conf.app.appId).execute();
    expect(rows).toHaveLength(0);
  });

  it('RFC 8628 §3.1: an app not allowed the device_code grant → unauthorized_client, at both endpoints; nothing stored', async () => {
    const s = await setup({ grantTypes: ['authorization_code', 'refresh_token'] });
    const res = await postForm(ctx, '/device_authorization', { scope: 'openid' }, s.auth);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('unauthorized_client');
    const token = await s.poll('x'.repeat(64));
    expect(token.json().error).toBe('unauthorized_client');
    expect(await ctx.deps.db.selectFrom('device_codes').select('app_id').where('app_id', '=', s.app.appId).execute()).toHaveLength(0);
  });

  it('RFC 8628 §3.1: scope is checked as at /authorize (invalid_scope), resource as RFC 8707 (invalid_target); bad input → 400, never 500', async () => {
    const s = await setup({ resources: ['https://api.example.com/'] });
    const bad = async (payload: string, error: string) => {
      const res = await ctx.app.inject({ method: 'POST', url: '/device_authorization', headers: { ...FORM, ...s.auth }, payload });
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().error, payload).toBe(error);
    };
    await bad('scope=push%3Asend', 'invalid_scope');
    await bad('', 'invalid_scope');
    await bad('scope=openid&resource=https%3A%2F%2Fother.example.com%2F', 'invalid_target');
    await bad('scope=openid&scope=email', 'invalid_request');
    await bad(`scope=${'a'.repeat(1001)}`, 'invalid_request');
    await bad('scope=openid%00', 'invalid_request');
    const json = await ctx.app.inject({
      method: 'POST',
      url: '/device_authorization',
      headers: { 'content-type': 'application/json', ...s.auth },
      payload: '{}',
    });
    expect(json.statusCode).toBe(415);
    expect(await ctx.deps.db.selectFrom('device_codes').select('app_id').where('app_id', '=', s.app.appId).execute()).toHaveLength(0);
    const ok = await s.start({ scope: 'openid', resource: 'https://api.example.com/' });
    expect((await row(ok.device_code)).resource).toBe('https://api.example.com/');
  });

  it('RFC 8628 §3.5: authorization_pending, then slow_down for a poll sooner than the interval, which grows by 5 s and is kept', async () => {
    const s = await setup();
    const d = await s.start();
    const first = await s.poll(d.device_code);
    expect(first.statusCode).toBe(400);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.json().error).toBe('authorization_pending');
    clock().advance(2 * SECOND);
    const early = await s.poll(d.device_code);
    expect(early.statusCode).toBe(400);
    expect(early.json().error).toBe('slow_down');
    expect(await row(d.device_code)).toMatchObject({ interval_seconds: 10, status: 'pending' });
    // 6 s later is past the old interval but not the new one: slow_down again.
    clock().advance(6 * SECOND);
    expect((await s.poll(d.device_code)).json().error).toBe('slow_down');
    expect((await row(d.device_code)).interval_seconds).toBe(15);
    clock().advance(15 * SECOND);
    expect((await s.poll(d.device_code)).json().error).toBe('authorization_pending');
    expect((await row(d.device_code)).interval_seconds).toBe(15);
  });

  it('RFC 8628 §3.4-3.5: approved on /device, the exchange issues what a code exchange does (RFC 9068 access token, ID token with sid/amr/acr, refresh token), once', async () => {
    const s = await setup();
    const { d, browser, done, confirmPage } = await approvedDevice(s);
    expect(done.body).toContain('Return to your device');
    expect(done.body).toContain(s.app.name);
    const res = await s.poll(d.device_code);
    expect(res.statusCode, res.body).toBe(200);
    const t = res.json();
    expect(t).toMatchObject({ token_type: 'Bearer', scope: 'openid profile email offline_access' });
    const at = await verify(t.access_token, s.app.appId);
    expect(at).toMatchObject({ sub: s.user.id, client_id: s.app.appId, scope: 'openid profile email offline_access' });
    const r = await row(d.device_code);
    expect(r).toMatchObject({ status: 'redeemed', user_id: s.user.id });
    expect(at.grant_id).toBe(r.family_id);
    const session = await ctx.deps.db.selectFrom('sessions').selectAll().where('user_id', '=', s.user.id).executeTakeFirstOrThrow();
    expect(r.session_id).toBe(session.id);
    const id = await verify(t.id_token, s.app.appId);
    expect(id).toMatchObject({ sub: s.user.id, sid: session.id, amr: ['pwd'], email: s.user.email });
    expect(id.acr).toBeTypeOf('string');
    expect(t.refresh_token).toBeTypeOf('string');
    const family = await ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('family_id', '=', r.family_id).execute();
    expect(family).toHaveLength(1);
    // The refresh token works at /token like any other.
    const refreshed = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token }, s.auth);
    expect(refreshed.statusCode).toBe(200);
    // Single use: a second exchange is invalid_grant and issues nothing.
    const again = await s.poll(d.device_code);
    expect(again.statusCode).toBe(400);
    expect(again.json().error).toBe('invalid_grant');
    expect(await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('family_id', '=', r.family_id).execute()).toHaveLength(2);
    const audit = await ctx.deps.db.selectFrom('audit_events').selectAll().where('user_id', '=', s.user.id).execute();
    expect(audit.map((e) => e.event)).toContain('device_authorization.approved');
    expect(browser.cookies.km_sso).toBeTruthy();
    // Neither code, nor the sealed request the pages carried, is in any log line.
    const logs = ctx.logText();
    for (const secret of [d.device_code, d.user_code, d.user_code.replace('-', ''), t.access_token]) expect(logs).not.toContain(secret);
    expect(logs).not.toContain(hiddenFieldsOf(confirmPage).request);
  });

  it('the /device request is bound to the browser that entered the code: a confirm link in another browser goes back to code entry, nothing approved', async () => {
    const s = await setup();
    const victimApp = await setup();
    const d = await s.start();
    // The attacker enters their device's code (no session: the sign-in page carries the sealed request).
    const attacker = new Browser('198.51.100.9');
    const entered = await attacker.enterCode(d.user_code);
    expect(entered.body).toContain('action="/device/login"');
    expect(attacker.cookies.km_device_request).toBeTruthy();
    const sealed = hiddenFieldsOf(entered.body).request!;
    // The victim is signed in, with a binding cookie of their own (a foreign one for this request).
    const victim = new Browser();
    const own = await victim.enterCode((await victimApp.start()).user_code, { email: s.user.email, password: s.password });
    expect(own.statusCode).toBe(200);
    expect(victim.cookies.km_device_request).toBeTruthy();
    for (const cookies of [victim.cookies, { km_sso: victim.cookies.km_sso! }]) {
      const link = await ctx.app.inject({
        url: `/device/confirm?${new URLSearchParams({ request: sealed })}`,
        headers: { cookie: cookieHeader(cookies) },
      });
      expect(link.statusCode).toBe(400);
      expect(link.body).toContain('Enter the code shown on your device here');
      expect(link.body).toContain('name="user_code"');
      expect(link.body).not.toContain('value="approve"');
    }
    // A forged Approve with the victim's session and CSRF token is refused the same way.
    const codePage = await victim.get('/device');
    const approve = await victim.post('/device/confirm', codePage.body, { request: sealed, decision: 'approve' });
    expect(approve.statusCode).toBe(400);
    expect(approve.body).toContain('name="user_code"');
    const login = await victim.post('/device/login', codePage.body, { request: sealed, email: s.user.email, password: s.password });
    expect(login.statusCode).toBe(400);
    expect(login.headers.location).toBeUndefined();
    expect(await row(d.device_code)).toMatchObject({ status: 'pending', user_id: null });
    expect((await s.poll(d.device_code)).json().error).toBe('authorization_pending');
    // In the browser that entered the code, the same request goes on.
    const signedIn = await attacker.post('/device/login', entered.body, { email: s.user.email, password: s.password });
    expect(signedIn.statusCode).toBe(303);
  });

  it('the confirm page shows the user code to compare with the device', async () => {
    const s = await setup();
    const d = await s.start();
    const confirm = await new Browser().enterCode(d.user_code, { email: s.user.email, password: s.password });
    expect(confirm.body).toContain('Check that this code matches the one on your device');
    expect(confirm.body).toContain(`<strong class="user-code">${d.user_code}</strong>`);
  });

  it('RFC 8628 §3.5: concurrent exchanges of one approved device_code: exactly one gets tokens', async () => {
    const s = await setup();
    const { d } = await approvedDevice(s);
    const results = await Promise.all([1, 2, 3, 4].map(() => s.poll(d.device_code)));
    const ok = results.filter((r) => r.statusCode === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.statusCode !== 200)) expect(r.json().error).toBe('invalid_grant');
    const r = await row(d.device_code);
    expect(await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('family_id', '=', r.family_id).execute()).toHaveLength(1);
  });

  it('RFC 8628 §3.5: denied on /device → access_denied (400), audited; no tokens', async () => {
    const s = await setup();
    const d = await s.start();
    const browser = new Browser();
    const confirm = await browser.enterCode(d.user_code, { email: s.user.email, password: s.password });
    const done = await browser.decide(confirm.body, 'deny');
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('You denied');
    const res = await s.poll(d.device_code);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('access_denied');
    expect(await row(d.device_code)).toMatchObject({ status: 'denied', user_id: s.user.id });
    const audit = await ctx.deps.db.selectFrom('audit_events').select('event').where('user_id', '=', s.user.id).execute();
    expect(audit.map((e) => e.event)).toContain('device_authorization.denied');
    expect(await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', s.user.id).execute()).toHaveLength(0);
    // A second decision on the same request is refused: the page says so and offers a new code.
    const again = await browser.decide(confirm.body, 'approve');
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('expired or was already answered');
    expect((await row(d.device_code)).status).toBe('denied');
  });

  it('RFC 8628 §3.5: past expires_in the poll is expired_token, and the code can no longer be entered', async () => {
    const s = await setup();
    const d = await s.start();
    clock().advance(601 * SECOND);
    const res = await s.poll(d.device_code);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('expired_token');
    const page = await new Browser('198.51.100.40').enterCode(d.user_code);
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('not valid or has expired');
  });

  it('RFC 8628 §3.5: an approved device_code presented by another client is invalid_grant, and stays redeemable by its own', async () => {
    const s = await setup();
    const other = await setup();
    const { d } = await approvedDevice(s);
    const res = await other.poll(d.device_code);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_grant');
    expect((await row(d.device_code)).status).toBe('approved');
    expect((await s.poll(d.device_code)).statusCode).toBe(200);
    // A missing or unknown device_code is a 400, never a 500.
    const missing = await postForm(ctx, '/token', { grant_type: DEVICE_CODE_GRANT }, s.auth);
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toBe('invalid_request');
    expect((await s.poll('not-a-code')).json().error).toBe('invalid_grant');
  });

  it('RFC 8628 §5.4: the code in verification_uri_complete is only filled in; the user still confirms it, then the app and scopes are shown before Approve', async () => {
    const s = await setup({ name: 'Living Room TV', logoUrl: 'https://cdn.example.com/tv.png' });
    const d = await s.start({ scope: 'openid email' });
    const browser = new Browser();
    const linked = await browser.get(new URL(d.verification_uri_complete).pathname + new URL(d.verification_uri_complete).search);
    expect(linked.statusCode).toBe(200);
    expect(linked.body).toContain(`value="${d.user_code}"`);
    expect(linked.body).toContain('Check that this code is the one shown on your device');
    expect((await row(d.device_code)).status).toBe('pending');
    // Normalised input: lower case, spaces instead of the dash.
    const typed = d.user_code.toLowerCase().replace('-', ' ');
    const signInPage = await browser.post('/device', linked.body, { user_code: typed });
    expect(signInPage.statusCode).toBe(200);
    expect(signInPage.body).toContain('action="/device/login"');
    expect(signInPage.body).toContain('Living Room TV');
    const signedIn = await browser.post('/device/login', signInPage.body, { email: s.user.email, password: s.password });
    expect(signedIn.statusCode).toBe(303);
    const confirm = await browser.get(signedIn.headers.location as string);
    expect(confirm.body).toContain('Living Room TV');
    expect(confirm.body).toContain('https://cdn.example.com/tv.png');
    expect(confirm.body).toContain('See your email address');
    expect(confirm.body).toContain('value="approve"');
    expect(confirm.body).toContain('value="deny"');
    expect((await row(d.device_code)).status).toBe('pending');
    // The confirm form without its CSRF token decides nothing.
    const forged = await ctx.app.inject({
      method: 'POST',
      url: '/device/confirm',
      headers: { ...FORM, cookie: cookieHeader(browser.cookies) },
      payload: form({ request: hiddenFieldsOf(confirm.body).request, decision: 'approve' }),
    });
    expect(forged.statusCode).toBe(403);
    expect((await row(d.device_code)).status).toBe('pending');
  });

  it('RFC 8628 §3.3: a wrong password on the device sign-in shows the form again with the error; the request is kept', async () => {
    const s = await setup();
    const d = await s.start();
    const browser = new Browser('198.51.100.41');
    const page = await browser.enterCode(d.user_code);
    const wrong = await browser.post('/device/login', page.body, { email: s.user.email, password: 'not-the-password' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('Incorrect email or password.');
    expect(hiddenFieldsOf(wrong.body).request).toBeTruthy();
    const ok = await browser.post('/device/login', wrong.body, { email: s.user.email, password: s.password });
    expect(ok.statusCode).toBe(303);
    expect((await row(d.device_code)).status).toBe('pending');
  });

  it('RFC 8628 §5.1: wrong user codes are throttled per source; the throttle page says how long; other sources and sign-in are unaffected', async () => {
    const s = await setup();
    const d = await s.start();
    const guesser = new Browser('198.51.100.99');
    const wrong = await guesser.enterCode('BBBB-BBBB');
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toContain('That code is not valid or has expired');
    expect(wrong.body).toContain('name="user_code"');
    for (let i = 0; i < 9; i++) expect((await guesser.enterCode('BBBB-BBBB')).statusCode).toBe(400);
    const throttled = await guesser.enterCode('BBBB-BBBB');
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers['retry-after']).toBeDefined();
    expect(throttled.body).toMatch(/Try again in \d+ minutes?\./);
    expect(throttled.body).not.toContain('name="user_code"');
    expect(throttled.body).toContain('href="/device"');
    // Even the right code is refused from there: the throttle gives no oracle.
    expect((await guesser.enterCode(d.user_code)).statusCode).toBe(429);
    const counter = await ctx.deps.db
      .selectFrom('rate_limits')
      .selectAll()
      .where('key', '=', 'device_user_code_failures_ip:198.51.100.99')
      .executeTakeFirstOrThrow();
    // Refused entries past the limit are not counted: the window ends when it says.
    expect(counter.count).toBe(10);
    // The user elsewhere is not affected…
    const user = new Browser('192.0.2.10');
    const confirm = await user.enterCode(d.user_code, { email: s.user.email, password: s.password });
    expect(confirm.body).toContain('value="approve"');
    // …and the throttle never refuses a sign-in, even from the guessing source.
    const login = await guesser.get(`/login?app_id=${s.app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`);
    const signedIn = await guesser.post('/login', login.body, { email: s.user.email, password: s.password });
    expect(signedIn.statusCode).toBe(303);
    expect(new URL(signedIn.headers.location as string).searchParams.get('access_token')).toBeTruthy();
    clock().advance(15 * 60 * SECOND);
    expect((await guesser.enterCode('BBBB-BBBB')).statusCode).toBe(400);
  });

  it('RFC 8628 §3.4: the tokens are tied to the grant: signing out ends the access token (liveness) and queues the back-channel logout', async () => {
    const s = await setup({ backchannelLogoutUri: 'http://127.0.0.1:9/logout' });
    const { d, browser } = await approvedDevice(s, { scope: 'openid' });
    const t = (await s.poll(d.device_code)).json();
    expect(t.refresh_token).toBeUndefined();
    const bearer = { authorization: `Bearer ${t.access_token}` };
    expect((await ctx.app.inject({ url: '/userinfo', headers: bearer })).statusCode).toBe(200);
    // Session ends count by the second (liveness.ts): a token issued in the same second is not refused.
    clock().advance(2 * SECOND);
    const page = await browser.get('/sso/logout');
    const out = await browser.post('/sso/logout', page.body, {});
    expect(out.statusCode).toBe(200);
    expect((await ctx.app.inject({ url: '/userinfo', headers: bearer })).statusCode).toBe(401);
    const queued = await ctx.deps.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('app_id', '=', s.app.appId)
      .where('event', '=', 'backchannel_logout')
      .execute();
    expect(queued).toHaveLength(1);
    expect(JSON.parse(queued[0]!.payload)).toMatchObject({ sub: s.user.id, sid: (await row(d.device_code)).session_id });
  });

  it('the /device pages speak the request’s language (the shared catalogs: de, fr, es; English otherwise)', async () => {
    const s = await setup({ name: 'Wohnzimmer-TV' });
    const d = await s.start({ scope: 'openid email' });
    const page = async (lang: string) => {
      const res = await ctx.app.inject({ url: `/device?user_code=${d.user_code}`, headers: { 'accept-language': lang } });
      expect(res.statusCode).toBe(200);
      return res;
    };
    const de = await page('de-DE,de;q=0.9');
    expect(de.headers['content-language']).toBe('de');
    expect(de.body).toContain('<html lang="de">');
    expect(de.body).toContain('Gerät verbinden');
    expect(de.body).toContain('Gerätecode');
    expect((await page('fr')).body).toContain('Connecter un appareil');
    expect((await page('es')).body).toContain('Conectar un dispositivo');
    expect((await page('ja')).body).toContain('Connect a device');
    // The confirm screen, in German, names the scopes in German.
    const browser = new Browser('198.51.100.42');
    const entry = await ctx.app.inject({ url: '/device', headers: { 'accept-language': 'de' } });
    browser.cookies = cookiesOf(entry);
    const signInPage = await ctx.app.inject({
      method: 'POST',
      url: '/device',
      headers: { ...FORM, cookie: cookieHeader(browser.cookies), 'accept-language': 'de' },
      payload: form({ _csrf: csrfTokenOf(entry.body), user_code: d.user_code }),
    });
    expect(signInPage.body).toContain('Anmelden, um Ihr Gerät zu verbinden');
    browser.cookies = { ...browser.cookies, ...cookiesOf(signInPage) };
    const signedIn = await browser.post('/device/login', signInPage.body, { email: s.user.email, password: s.password });
    const confirm = await ctx.app.inject({
      url: signedIn.headers.location as string,
      headers: { cookie: cookieHeader({ ...browser.cookies }), 'accept-language': 'de' },
    });
    expect(confirm.body).toContain('Dieses Gerät verbinden?');
    expect(confirm.body).toContain('Ihre E-Mail-Adresse sehen');
    expect(confirm.body).toContain('Wohnzimmer-TV möchte das Gerät verbinden');
  });

  it('RFC 8628 §4: discovery names device_authorization_endpoint and the grant type', async () => {
    const res = await ctx.app.inject({ url: '/.well-known/openid-configuration' });
    const doc = res.json();
    expect(doc.device_authorization_endpoint).toBe(`${ctx.deps.config.issuer}/device_authorization`);
    expect(doc.grant_types_supported).toContain(DEVICE_CODE_GRANT);
  });

  it('housekeeping deletes device codes past their expiry and the retention period, and keeps live ones', async () => {
    const s = await setup();
    const old = await s.start();
    clock().advance(8 * DAY);
    const fresh = await s.start();
    const results = await pruneExpired(ctx.deps);
    expect(results.find((r) => r.name === 'device_codes')?.affected).toBeGreaterThanOrEqual(1);
    const left = await ctx.deps.db.selectFrom('device_codes').select('device_code_hash').where('app_id', '=', s.app.appId).execute();
    expect(left.map((r) => r.device_code_hash)).toEqual([sha256(fresh.device_code)]);
    expect(left).not.toContainEqual({ device_code_hash: sha256(old.device_code) });
  });
});

describe('KEYMASTER_DEVICE_GRANT=false', () => {
  let off: TestContext;
  beforeAll(async () => {
    off = await createTestContext({ clock: 'fixed', env: { KEYMASTER_DEVICE_GRANT: 'false' } });
  });
  afterAll(() => off.close());

  it('RFC 8628 off: the endpoints are 404, the token grant is unsupported_grant_type, discovery names neither', async () => {
    const { app, clientSecret } = await makeApp(off.deps, { grantTypes: ['authorization_code', DEVICE_CODE_GRANT] });
    const auth = { authorization: basicAuth(app.appId, clientSecret) };
    const da = await off.app.inject({
      method: 'POST',
      url: '/device_authorization',
      headers: { ...FORM, ...auth },
      payload: 'scope=openid',
    });
    expect(da.statusCode).toBe(404);
    expect((await off.app.inject({ url: '/device' })).statusCode).toBe(404);
    const token = await off.app.inject({
      method: 'POST',
      url: '/token',
      headers: { ...FORM, ...auth },
      payload: form({ grant_type: DEVICE_CODE_GRANT, device_code: 'x' }),
    });
    expect(token.statusCode).toBe(400);
    expect(token.json().error).toBe('unsupported_grant_type');
    const doc = (await off.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(doc.device_authorization_endpoint).toBeUndefined();
    expect(doc.grant_types_supported).not.toContain(DEVICE_CODE_GRANT);
    expect(await off.deps.db.selectFrom('device_codes').select('app_id').execute()).toHaveLength(0);
  });
});
