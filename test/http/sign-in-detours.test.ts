// The pending sign-in survives every detour of the hosted pages (issue 16): "Create account", "Forgot
// password?" and the links in their emails carry the app's state (Keymaster's /login flow) or the
// sealed /authorize request (OIDC: client, callback, state, nonce, PKCE, scopes) back to the sign-in,
// which then ends through the flow that started it: a code for /authorize, never tokens in a URL.
// A sealed request that expired, was tampered with or is another app's is refused on the branded
// error page, whose way back is the client's callback with an error (RFC 6749 §4.1.2.1).
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock, MINUTE } from '../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { authorizeQuery, hiddenFieldsOf, pkcePair } from '../helpers/oidc.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';

let ctx: TestContext;
let smtp: SmtpCapture;
let clock: FixedClock;
beforeAll(async () => {
  smtp = await startSmtpCapture();
  // A clock of our own that starts now: the outbox sends at once, and a test can make a request expire.
  clock = new FixedClock(Date.now());
  ctx = await createTestContext({ env: { SMTP_URL: smtp.url }, clock });
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

/** One browser over app.inject: keeps its cookies, follows links as a user clicks them. */
class Visitor {
  cookies: Record<string, string> = {};
  async get(url: string): Promise<LightMyRequestResponse> {
    const res = await ctx.app.inject({ url, headers: { cookie: cookieHeader(this.cookies) } });
    Object.assign(this.cookies, cookiesOf(res));
    return res;
  }
  /** Posts the page's form (its hidden fields and CSRF token) with `fields` typed in. */
  async submit(page: LightMyRequestResponse, action: string, fields: Record<string, string>): Promise<LightMyRequestResponse> {
    const res = await ctx.app.inject({
      method: 'POST',
      url: action,
      headers: { ...FORM, cookie: cookieHeader(this.cookies) },
      payload: form({ ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), ...fields }),
    });
    Object.assign(this.cookies, cookiesOf(res));
    return res;
  }
}

/** The href of the link (or button link) named `label` on a page, unescaped. */
function hrefOf(page: LightMyRequestResponse, label: string): string {
  const m = new RegExp(`href="([^"]+)">${label.replace(/[?]/g, '\\?')}</a>`).exec(page.body);
  if (!m) throw new Error(`no "${label}" link in ${page.body.slice(0, 2000)}`);
  return m[1]!.replaceAll('&amp;', '&');
}

const loginQuery = (appId: string, extra: Record<string, string> = {}) =>
  new URLSearchParams({ app_id: appId, redirect_uri: DEFAULT_REDIRECT, ...extra }).toString();

const uniqueEmail = (tag: string) => `detour-${tag}-${Math.random().toString(36).slice(2, 8)}@example.com`;

describe('the pending sign-in across the account pages', () => {
  it('/login?state: "Create account" and "Forgot password?" carry the state, and every page carries it back to /login', async () => {
    const { app } = await makeApp(ctx.deps);
    const v = new Visitor();
    const login = await v.get(`/login?${loginQuery(app.appId, { state: 'st-keymaster' })}`);
    for (const label of ['Create account', 'Forgot password?']) {
      const href = new URL(hrefOf(login, label), ctx.baseUrl);
      expect(href.searchParams.get('state')).toBe('st-keymaster');
      const page = await v.get(href.pathname + href.search);
      expect(page.statusCode).toBe(200);
      expect(hiddenFieldsOf(page.body).state).toBe('st-keymaster');
      const back = new URL(hrefOf(page, label === 'Create account' ? 'Already have an account? Sign in' : 'Back to sign in'), ctx.baseUrl);
      expect(back.pathname).toBe('/login');
      expect(back.searchParams.get('state')).toBe('st-keymaster');
      expect(back.searchParams.get('app_id')).toBe(app.appId);
    }

    // Back to sign in and signed in: Keymaster's flow, tokens, with the app's state.
    const { user, password } = await makeUser(ctx.deps);
    const forgot = await v.get(hrefOf(login, 'Forgot password?'));
    const again = await v.get(hrefOf(forgot, 'Back to sign in'));
    const done = await v.submit(again, '/login', { email: user.email, password });
    expect(done.statusCode).toBe(303);
    const landed = new URL(done.headers.location as string);
    expect(landed.searchParams.get('state')).toBe('st-keymaster');
    expect(landed.searchParams.get('access_token')).toMatch(/^ey/);
  });

  it('/login?prompt=login: back from a detour, or from an email link, the SSO session still does not answer', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const other = await makeUser(ctx.deps, { email: uniqueEmail('prompt') });
    const v = new Visitor();
    // This browser is signed in already (as `user`): without prompt=login, /login answers at once.
    const first = await v.get(`/login?${loginQuery(app.appId)}`);
    expect((await v.submit(first, '/login', { email: user.email, password })).statusCode).toBe(303);
    expect((await v.get(`/login?${loginQuery(app.appId)}`)).statusCode).toBe(303);

    const login = await v.get(`/login?${loginQuery(app.appId, { state: 'st-fresh', prompt: 'login' })}`);
    expect(login.statusCode).toBe(200);
    const forgot = await v.get(hrefOf(login, 'Forgot password?'));
    const back = await v.get(hrefOf(forgot, 'Back to sign in'));
    expect(back.statusCode).toBe(200);
    expect(hiddenFieldsOf(back.body).state).toBe('st-fresh');

    // The reset email for another account, opened here: "Continue to sign in" asks for a fresh sign-in too.
    await v.submit(forgot, '/account/forgot-password', { email: other.user.email });
    const link = linkIn(await smtp.next(other.user.email, 0, 'Reset'), '/account/reset-password');
    const reset = await v.get(link.pathname + link.search);
    const changed = await v.submit(reset, '/account/reset-password', {
      new_password: 'Fr3sh-Detour-Pass!',
      confirm_password: 'Fr3sh-Detour-Pass!',
    });
    const again = await v.get(hrefOf(changed, 'Continue to sign in'));
    expect(again.statusCode).toBe(200);
    const done = await v.submit(again, '/login', { email: other.user.email, password: 'Fr3sh-Detour-Pass!' });
    expect(new URL(done.headers.location as string).searchParams.get('state')).toBe('st-fresh');
  });

  it('/authorize: the detour links carry the sealed request, and /login takes it back', async () => {
    const { app } = await makeApp(ctx.deps);
    const v = new Visitor();
    const page = await v.get(`/authorize?${authorizeQuery(app.appId)}`);
    const authz = hiddenFieldsOf(page.body).authz!;
    expect(authz).toBeTruthy();
    for (const label of ['Create account', 'Forgot password?']) {
      const href = new URL(hrefOf(page, label), ctx.baseUrl);
      expect(href.searchParams.get('authz')).toBe(authz);
      const detour = await v.get(href.pathname + href.search);
      expect(hiddenFieldsOf(detour.body).authz).toBe(authz);
    }
    const back = await v.get(`/login?${loginQuery(app.appId, { authz })}`);
    expect(back.statusCode).toBe(200);
    expect(hiddenFieldsOf(back.body).authz).toBe(authz);
  });

  it('/authorize → forgot password → email link → reset → continue → sign in ends with a code and the state, no tokens', async () => {
    const { app } = await makeApp(ctx.deps);
    const email = uniqueEmail('reset');
    const { user } = await makeUser(ctx.deps, { email });
    const { challenge } = pkcePair();
    const v = new Visitor();
    const page = await v.get(
      `/authorize?${authorizeQuery(app.appId, { state: 'st-oidc', nonce: 'n-oidc', code_challenge: challenge, code_challenge_method: 'S256' })}`,
    );
    const authz = hiddenFieldsOf(page.body).authz!;
    const forgot = await v.get(hrefOf(page, 'Forgot password?'));
    const sent = await v.submit(forgot, '/account/forgot-password', { email });
    expect(sent.statusCode).toBe(200);
    expect(new URL(hrefOf(sent, 'Continue to sign in'), ctx.baseUrl).searchParams.get('authz')).toBe(authz);

    const link = linkIn(await smtp.next(email, 0, 'Reset'), '/account/reset-password');
    // The link stays short whatever the request's length: the pending sign-in is kept with the token.
    expect(link.searchParams.get('authz')).toBeNull();
    const row = await ctx.deps.db
      .selectFrom('email_tokens')
      .select(['sign_in_authz', 'sign_in_state'])
      .where('purpose', '=', 'reset')
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.sign_in_authz).toBe(authz);
    // Opened in another browser: the page still carries the request.
    const other = new Visitor();
    const reset = await other.get(link.pathname + link.search);
    expect(hiddenFieldsOf(reset.body).authz).toBe(authz);
    const changed = await other.submit(reset, '/account/reset-password', {
      new_password: 'N3w-Detour-Pass!',
      confirm_password: 'N3w-Detour-Pass!',
    });
    expect(changed.body).toContain('Your password has been changed');
    const login = await other.get(hrefOf(changed, 'Continue to sign in'));
    expect(login.statusCode).toBe(200);
    const done = await other.submit(login, '/login', { email, password: 'N3w-Detour-Pass!' });
    expect(done.statusCode).toBe(303);
    const landed = new URL(done.headers.location as string);
    expect(landed.origin + landed.pathname).toBe(DEFAULT_REDIRECT);
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('state')).toBe('st-oidc');
    expect(landed.searchParams.get('access_token')).toBeNull();
    expect(landed.searchParams.get('refresh_token')).toBeNull();
    const code = await ctx.deps.db.selectFrom('authorization_codes').selectAll().where('app_id', '=', app.appId).executeTakeFirstOrThrow();
    expect(code.nonce).toBe('n-oidc');
    expect(code.code_challenge).toBe(challenge);
  });

  it('/authorize → create account → verify link in another browser → continue → sign in ends with a code', async () => {
    const { app } = await makeApp(ctx.deps);
    const email = uniqueEmail('verify');
    const v = new Visitor();
    const page = await v.get(`/authorize?${authorizeQuery(app.appId, { state: 'st-new' })}`);
    const authz = hiddenFieldsOf(page.body).authz!;
    const register = await v.get(hrefOf(page, 'Create account'));
    const created = await v.submit(register, '/account/register', { name: 'Detour', email, password: 'Det0ur-Passw0rd!' });
    expect(created.statusCode).toBe(200);
    const link = linkIn(await smtp.next(email), '/account/verify');
    // Opened elsewhere (a phone's mail app): verified, not signed in; the sign-in keeps the request.
    const other = new Visitor();
    const opened = await other.get(link.pathname + link.search);
    expect(hiddenFieldsOf(opened.body).authz).toBe(authz);
    const verified = await other.submit(opened, '/account/verify', {});
    expect(verified.body).toContain('Email verified');
    expect(other.cookies.km_sso).toBeUndefined();
    const login = await other.get(hrefOf(verified, 'Continue to sign in'));
    const done = await other.submit(login, '/login', { email, password: 'Det0ur-Passw0rd!' });
    const landed = new URL(done.headers.location as string);
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('state')).toBe('st-new');
    expect(landed.searchParams.get('access_token')).toBeNull();
  });

  it('/authorize → "Email not verified" → send a new link → verify → continue → a code', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { verified: false });
    const v = new Visitor();
    const page = await v.get(`/authorize?${authorizeQuery(app.appId, { state: 'st-resend' })}`);
    const authz = hiddenFieldsOf(page.body).authz!;
    const refused = await v.submit(page, '/login', { email: user.email, password });
    expect(refused.statusCode).toBe(403);
    const resend = await v.get(hrefOf(refused, 'Send a new verification link'));
    expect(hiddenFieldsOf(resend.body).authz).toBe(authz);
    expect((await v.submit(resend, '/account/verify/resend', { email: user.email })).statusCode).toBe(200);
    const link = linkIn(await smtp.next(user.email, 0, 'Verify'), '/account/verify');
    // The browser that asked for the link: verifying signs the user in and answers the client at once.
    const done = await v.submit(await v.get(link.pathname + link.search), '/account/verify', {});
    expect(done.statusCode).toBe(303);
    expect(v.cookies.km_sso).toBeTruthy();
    const landed = new URL(done.headers.location as string);
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('state')).toBe('st-resend');
    expect(landed.searchParams.get('access_token')).toBeNull();
  });

  it('a refused form post (bad CSRF token) goes back to /login with the sealed request, not without it', async () => {
    const { app } = await makeApp(ctx.deps);
    const v = new Visitor();
    const page = await v.get(`/authorize?${authorizeQuery(app.appId)}`);
    const { authz } = hiddenFieldsOf(page.body);
    const fields = { ...hiddenFieldsOf(page.body), _csrf: 'forged', email: 'a@example.com', password: 'x' };
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(v.cookies) },
      payload: form(fields),
    });
    expect(res.statusCode).toBe(403);
    const back = new URL(hrefOf(res, 'Back to sign in'), ctx.baseUrl);
    expect(authz).toBeTruthy();
    expect(back.searchParams.get('authz')).toBe(authz);
  });
});

describe('a sealed request that cannot be used is refused, never answered with tokens', () => {
  /** The client's callback the error page leads back to. */
  const wayBack = (res: LightMyRequestResponse, appName: string) => new URL(hrefOf(res, `Back to ${appName}`));

  it('expired: GET /login and POST /login answer the error page, back to the client with its state', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const v = new Visitor();
    const page = await v.get(`/authorize?${authorizeQuery(app.appId, { state: 'st-late' })}`);
    const authz = hiddenFieldsOf(page.body).authz!;
    const forgot = await v.get(hrefOf(page, 'Forgot password?'));
    clock.advance(16 * MINUTE);
    try {
      const back = await v.get(hrefOf(forgot, 'Back to sign in'));
      expect(back.statusCode).toBe(400);
      expect(back.body).toContain('The sign-in request has expired');
      expect(back.body).not.toContain('name="password"');
      const to = wayBack(back, app.name);
      expect(to.origin + to.pathname).toBe(DEFAULT_REDIRECT);
      expect(to.searchParams.get('error')).toBe('access_denied');
      expect(to.searchParams.get('state')).toBe('st-late');

      // The form from before the detour, posted with the right password: refused, nothing issued.
      const sessions = await ctx.deps.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute();
      const res = await v.submit(page, '/login', { email: user.email, password });
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).toContain('The sign-in request has expired');
      expect(wayBack(res, app.name).searchParams.get('state')).toBe('st-late');
      expect(res.body).not.toContain('href="/login?');
      const tokens = await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', user.id).execute();
      expect(tokens).toEqual([]);
      expect(await ctx.deps.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).toEqual(sessions);
      expect(authz).toBeTruthy();
    } finally {
      clock.set(new Date());
    }
  });

  it('tampered with, or sealed for another app: refused on GET and POST, and no state crosses over', async () => {
    const { app } = await makeApp(ctx.deps);
    const { app: other } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const v = new Visitor();
    const page = await v.get(`/authorize?${authorizeQuery(app.appId, { state: 'st-mine' })}`);
    const authz = hiddenFieldsOf(page.body).authz!;
    const tampered = `${authz.slice(0, -4)}AAAA`;

    const broken = await v.get(`/login?${loginQuery(app.appId, { authz: tampered })}`);
    expect(broken.statusCode).toBe(400);
    expect(broken.body).toContain('The sign-in request is not valid');
    const toMine = wayBack(broken, app.name);
    expect(toMine.searchParams.get('error')).toBe('access_denied');
    expect(toMine.searchParams.get('state')).toBeNull();

    const mixed = await v.get(`/login?${loginQuery(other.appId, { authz })}`);
    expect(mixed.statusCode).toBe(400);
    expect(mixed.body).toContain('does not match this app');
    const toOther = wayBack(mixed, other.name);
    expect(toOther.searchParams.get('state')).toBeNull();

    const posted = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(v.cookies) },
      payload: form({
        app_id: other.appId,
        redirect_uri: DEFAULT_REDIRECT,
        authz,
        _csrf: csrfTokenOf(page.body),
        email: user.email,
        password,
      }),
    });
    expect(posted.statusCode).toBe(400);
    expect(posted.headers.location).toBeUndefined();
    expect(wayBack(posted, other.name).searchParams.get('state')).toBeNull();
    expect(await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', user.id).execute()).toEqual([]);
  });

  it('the account pages refuse a state or request beyond the login schema limits', async () => {
    const { app } = await makeApp(ctx.deps);
    const long = await ctx.app.inject({ url: `/account/forgot-password?${loginQuery(app.appId, { authz: 'a'.repeat(8001) })}` });
    expect(long.statusCode).toBe(400);
    const nul = await ctx.app.inject({ url: `/account/register?${loginQuery(app.appId, { state: 'a\u0000b' })}` });
    expect(nul.statusCode).toBe(400);
    const state = await ctx.app.inject({ url: `/account/register?${loginQuery(app.appId, { state: 's'.repeat(1001) })}` });
    expect(state.statusCode).toBe(400);
  });
});
