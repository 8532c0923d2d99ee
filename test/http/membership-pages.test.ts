// The membership refusals on the hosted pages (issue 14): waiting for approval, no access (invite-only
// app) and suspended are each the app's own page (its name, logo, colour), 403, with what to do, no
// support reference (not a fault), and two ways on: sign in with a different account (the form, the
// SSO session not resumed) and back to the app (an OIDC client hears access_denied). Every hosted
// path that admits a user to an app: POST /login, GET /login with an SSO session, the sign-in form of
// an /authorize request, the email-verification link that continues a sign-in. The JSON answers keep
// their shapes and statuses.
import type { LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/domain/apps/apps.js';
import { getMembership, setAppAccess, setMembershipStatus } from '../../src/domain/memberships/memberships.js';
import { FixedClock } from '../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser, member } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { authorizeQuery, hiddenFieldsOf } from '../helpers/oidc.js';
import { signIn } from '../helpers/sign-in.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';
import { Visitor } from '../helpers/visitor.js';

let ctx: TestContext;
let smtp: SmtpCapture;
// A clock of our own, in the middle of a 30 s TOTP step, so a code for the next step is exact.
const clock = new FixedClock(Math.floor(Date.now() / 30_000) * 30_000 + 15_000);
beforeAll(async () => {
  smtp = await startSmtpCapture();
  ctx = await createTestContext({ clock, env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

type Case = 'pending' | 'denied' | 'suspended';
const TITLES: Record<Case, string> = {
  pending: 'Waiting for approval',
  denied: 'You do not have access',
  suspended: 'Account suspended',
};
const SAYS: Record<Case, RegExp> = {
  pending: /Your request to join <strong>[^<]+<\/strong> was received and is waiting for approval by an administrator\./,
  denied: /Ask the app’s administrator for an invitation\.[\s\S]*open the link in the invitation email/,
  suspended: /Contact the app’s administrator\. Your access to other apps is not affected\./,
};

/** An app and a user it refuses for `kind`: approval (not yet enrolled), invite-only, suspended member. */
async function refusingApp(kind: Case): Promise<{ app: App; user: { id: string; email: string }; password: string }> {
  const { app } = await makeApp(ctx.deps, {
    name: `Refusing ${kind} ${Math.random().toString(36).slice(2, 7)}`,
    logoUrl: 'https://cdn.example.com/logo.png',
  });
  const { user, password } = await makeUser(ctx.deps);
  if (kind === 'pending') await setAppAccess(ctx.deps, app.appId, { registrationPolicy: 'approval' });
  if (kind === 'denied') await setAppAccess(ctx.deps, app.appId, { registrationPolicy: 'invite' });
  if (kind === 'suspended') {
    await member(ctx.deps, user, app, ['user']);
    await setMembershipStatus(ctx.deps, { userId: user.id, appId: app.appId, status: 'suspended' });
  }
  return { app, user, password };
}

const hrefs = (html: string) => [...html.matchAll(/<a [^>]*href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));

/** The app's membership page for `kind`: status, title, branding, what to do, the ways on, no reference. */
function expectPage(res: LightMyRequestResponse, kind: Case, app: App): { signInAgain: URL; back: string | undefined } {
  expect(res.statusCode, res.body.slice(0, 300)).toBe(403);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).toContain(`<h1>${TITLES[kind]}</h1>`);
  expect(res.body).toContain(`<title>${TITLES[kind]} · ${app.name}</title>`);
  expect(res.body).toMatch(SAYS[kind]);
  // The app's branding: its name, logo and colour sheet.
  expect(res.body).toContain(`for <strong>${app.name}</strong>`);
  expect(res.body).toContain(`<img src="${app.logoUrl}"`);
  expect(res.body).toContain(`/branding/${app.appId}.css`);
  // Not a fault: no support reference, not the generic refusal.
  expect(res.body).not.toContain('Reference:');
  expect(res.body).not.toContain('This request cannot be completed');
  const links = hrefs(res.body);
  const again = links.find((h) => h.startsWith('/login?'));
  expect(again, links.join('\n')).toBeDefined();
  expect(res.body).toContain('Sign in with a different account');
  const signInAgain = new URL(again!, 'http://km.test');
  expect(signInAgain.searchParams.get('app_id')).toBe(app.appId);
  expect(signInAgain.searchParams.get('redirect_uri')).toBe(DEFAULT_REDIRECT);
  const back = links.find((h) => h.startsWith('https://app.example.com/'));
  if (back) expect(res.body).toContain(`Back to ${app.name}`);
  return { signInAgain, back };
}

/** GET + POST /login (Keymaster's flow), with an SSO cookie or none. */
async function postLogin(app: App, email: string, password: string) {
  const page = await ctx.app.inject({ url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=st-k` });
  return ctx.app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
    payload: form({ ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), email, password }),
  });
}

/** An SSO session opened on another (open) app. */
async function ssoElsewhere(email: string, password: string): Promise<string> {
  const { app: open } = await makeApp(ctx.deps);
  return (await signIn(ctx, open.appId, email, password)).sso;
}

const CASES: Case[] = ['pending', 'denied', 'suspended'];

describe.each(CASES)('%s: the app’s own page on every hosted path', (kind) => {
  it('POST /login: the page; sign in again with prompt=login; back to the app’s site', async () => {
    const { app, user, password } = await refusingApp(kind);
    const res = await postLogin(app, user.email, password);
    const { signInAgain, back } = expectPage(res, kind, app);
    expect(signInAgain.searchParams.get('prompt')).toBe('login');
    expect(signInAgain.searchParams.get('state')).toBe('st-k');
    expect(back).toBe('https://app.example.com/');
    // No SSO session was opened by the refused sign-in.
    expect(cookiesOf(res).km_sso).toBeUndefined();
    if (kind === 'pending') expect(await getMembership(ctx.deps, user.id, app.appId)).toMatchObject({ status: 'pending' });
    if (kind === 'denied') expect(await getMembership(ctx.deps, user.id, app.appId)).toBeUndefined();
  });

  it('GET /login with an SSO session: the page; "sign in with a different account" is the form, not the session again', async () => {
    const { app, user, password } = await refusingApp(kind);
    const sso = await ssoElsewhere(user.email, password);
    const res = await ctx.app.inject({
      url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`,
      headers: { cookie: `km_sso=${sso}` },
    });
    const { signInAgain, back } = expectPage(res, kind, app);
    expect(back).toBe('https://app.example.com/');
    const form = await ctx.app.inject({ url: signInAgain.pathname + signInAgain.search, headers: { cookie: `km_sso=${sso}` } });
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('name="password"');
    expect(form.body).toContain('name="prompt" value="login"');
    // Another account signs in there: tokens for it, through the same flow.
    const { user: other, password: otherPassword } = await makeUser(ctx.deps, { memberOf: { app, roles: ['user'] } });
    const post = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader({ ...cookiesOf(form), km_sso: sso }) },
      payload: form_(form.body, other.email, otherPassword),
    });
    expect(post.statusCode).toBe(303);
    expect(new URL(post.headers.location as string).searchParams.get('access_token')).toBeTruthy();
    expect(cookiesOf(post).km_sso).toBeTruthy();
    expect(cookiesOf(post).km_sso).not.toBe(sso);
  });

  it('the sign-in form of an /authorize request: the page; back to the client with access_denied and its state; again keeps the request', async () => {
    const { app, user, password } = await refusingApp(kind);
    const page = await ctx.app.inject({ url: `/authorize?${authorizeQuery(app.appId)}` });
    expect(page.statusCode).toBe(200);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
      payload: form_(page.body, user.email, password),
    });
    const { signInAgain, back } = expectPage(res, kind, app);
    const backUrl = new URL(back!);
    expect(backUrl.origin + backUrl.pathname).toBe(DEFAULT_REDIRECT);
    expect(backUrl.searchParams.get('error')).toBe('access_denied');
    expect(backUrl.searchParams.get('state')).toBe('st-1');
    expect(signInAgain.searchParams.get('authz')).toBe(hiddenFieldsOf(page.body).authz);
    const again = await ctx.app.inject({ url: signInAgain.pathname + signInAgain.search });
    expect(again.statusCode).toBe(200);
    expect(again.body).toContain('name="authz"');
  });

  it('in German: the same page, translated', async () => {
    const { app, user, password } = await refusingApp(kind);
    const page = await ctx.app.inject({
      url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&ui_locales=de`,
    });
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
      payload: form_(page.body, user.email, password),
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-language']).toBe('de');
    const de = { pending: 'Warten auf Freigabe', denied: 'Sie haben keinen Zugriff', suspended: 'Konto gesperrt' }[kind];
    expect(res.body).toContain(`<h1>${de}</h1>`);
    expect(res.body).toContain('Mit einem anderen Konto anmelden');
    expect(res.body).toContain('ui_locales=de');
  });
});

function form_(html: string, email: string, password: string): string {
  return form({ ...hiddenFieldsOf(html), _csrf: csrfTokenOf(html), email, password });
}

describe('the code page after the password (TOTP on)', () => {
  const codeAt = (secret: string) =>
    new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
      timestamp: clock.now().getTime(),
    });
  const api = (url: string, body: unknown, token?: string) =>
    ctx.app.inject({ method: 'POST', url, payload: body as object, ...(token && { headers: { authorization: `Bearer ${token}` } }) });

  it('suspended: the password, then the code, then the app’s page (the refusal comes after the second factor)', async () => {
    const { app, user, password } = await refusingApp('suspended');
    // TOTP turned on through another app (the account API), one step before this sign-in.
    const { app: open } = await makeApp(ctx.deps);
    const token = (await api('/api/v1/auth/login', { email: user.email, password, app_id: open.appId })).json().access_token as string;
    const { secret } = (await api('/api/v1/auth/totp/setup', undefined, token)).json() as { secret: string };
    expect((await api('/api/v1/auth/totp/confirm', { code: codeAt(secret) }, token)).statusCode).toBe(200);
    clock.advance(30_000);
    const v = new Visitor(ctx);
    const signInPage = await v.get(`/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`);
    const codePage = await v.submit(signInPage, '/login', { email: user.email, password });
    expect(codePage.statusCode).toBe(200);
    expect(codePage.body).toContain('name="totp_session"');
    const res = await v.submit(codePage, '/login/totp', { code: codeAt(secret), recovery_code: '' });
    const { signInAgain, back } = expectPage(res, 'suspended', app);
    expect(signInAgain.searchParams.get('prompt')).toBe('login');
    expect(back).toBe('https://app.example.com/');
  });
});

describe('the email-verification link that continues a sign-in', () => {
  it('approval app: registered, verified in the same browser → the waiting-for-approval page', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Approval Verify', logoUrl: 'https://cdn.example.com/logo.png' });
    await setAppAccess(ctx.deps, app.appId, { registrationPolicy: 'approval' });
    const v = new Visitor(ctx);
    const email = `mp-verify-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const signInPage = await v.get(`/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`);
    const href = /href="([^"]+)">Create account<\/a>/.exec(signInPage.body)![1]!.replaceAll('&amp;', '&');
    const created = await v.submit(await v.get(href), '/account/register', { name: 'Vera', email, password: 'Ver1fy-Continue!' });
    expect(created.statusCode).toBe(200);
    const link = linkIn(await smtp.next(email), '/account/verify');
    const res = await v.submit(await v.get(link.pathname + link.search), '/account/verify');
    expectPage(res, 'pending', app);
    const user = await ctx.deps.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
    expect(await getMembership(ctx.deps, user.id, app.appId)).toMatchObject({ status: 'pending' });
  });
});

describe('the JSON answers are unchanged', () => {
  it('/api/v1/auth/login: 403 {detail} with Keymaster’s texts', async () => {
    const detail = { pending: /waiting for approval/, denied: /^You do not have access$/, suspended: /^Account suspended$/ };
    for (const kind of CASES) {
      const { app, user, password } = await refusingApp(kind);
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { app_id: app.appId, email: user.email, password },
      });
      expect(res.statusCode, kind).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(res.json())).toEqual(['detail']);
      expect(res.json().detail).toMatch(detail[kind]);
    }
  });

  it('/token/refresh of a suspended member: Keymaster JSON {error, error_description}, not a page', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { memberOf: { app, roles: ['user'] } });
    const { refreshToken } = await signIn(ctx, app.appId, user.email, password);
    await setMembershipStatus(ctx.deps, { userId: user.id, appId: app.appId, status: 'suspended' });
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { app_id: app.appId, refresh_token: refreshToken },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'access_denied', error_description: 'Account suspended' });
  });

  it('/authorize with an SSO session: still the redirect to the client with access_denied (RFC 6749 §4.1.2.1)', async () => {
    const { app, user, password } = await refusingApp('suspended');
    const sso = await ssoElsewhere(user.email, password);
    const res = await ctx.app.inject({ url: `/authorize?${authorizeQuery(app.appId)}`, headers: { cookie: `km_sso=${sso}` } });
    expect(res.statusCode).toBe(303);
    const loc = new URL(res.headers.location as string);
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('error_description')).toBe('Account suspended');
  });
});
