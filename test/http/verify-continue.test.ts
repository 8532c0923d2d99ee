// Sign-in after verifying the email (issue 16): the verification link opened in the browser that
// registered (km_verify, compared with the hash kept with the token) signs the user in and continues
// the pending request: the /authorize code (or the consent page of a third-party app) or the /login
// flow's tokens. Opened anywhere else, it only verifies: "Email verified" and a sign-in that keeps
// the request. A forwarded link never yields a session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp } from '../helpers/factories.js';
import { authorizeQuery, hiddenFieldsOf } from '../helpers/oidc.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';
import { localPath, Visitor } from '../helpers/visitor.js';

let ctx: TestContext;
let smtp: SmtpCapture;
beforeAll(async () => {
  smtp = await startSmtpCapture();
  ctx = await createTestContext({ env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

const PASSWORD = 'Ver1fy-Continue!';
const uniqueEmail = () => `verify-${Math.random().toString(36).slice(2, 8)}@example.com`;

/** From a sign-in page: "Create account", registered; returns the verification link's path. */
async function register(v: Visitor, signInPage: string, email: string): Promise<string> {
  const page = await v.get(signInPage);
  const href = /href="([^"]+)">Create account<\/a>/.exec(page.body)![1]!.replaceAll('&amp;', '&');
  const created = await v.submit(await v.get(href), '/account/register', { name: 'Vera', email, password: PASSWORD });
  expect(created.statusCode).toBe(200);
  expect(v.cookies.km_verify).toBeTruthy();
  const link = linkIn(await smtp.next(email), '/account/verify');
  return link.pathname + link.search;
}

const sessionsOf = async (email: string) =>
  ctx.deps.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select('sessions.id')
    .where('users.email', '=', email)
    .execute();

describe('verify the email, then continue to the app', () => {
  it('same browser, /authorize: signed in, and the client gets its code with the state and nonce', async () => {
    const { app } = await makeApp(ctx.deps);
    const email = uniqueEmail();
    const v = new Visitor(ctx);
    const link = await register(v, `/authorize?${authorizeQuery(app.appId, { state: 'st-v', nonce: 'n-v' })}`, email);
    const done = await v.submit(await v.get(link), '/account/verify');
    expect(done.statusCode).toBe(303);
    const landed = new URL(done.headers.location as string);
    expect(landed.origin + landed.pathname).toBe(DEFAULT_REDIRECT);
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('state')).toBe('st-v');
    expect(v.cookies.km_sso).toBeTruthy();
    expect(v.cookies.km_verify).toBeUndefined();
    const code = await ctx.deps.db.selectFrom('authorization_codes').selectAll().where('app_id', '=', app.appId).executeTakeFirstOrThrow();
    expect(code.nonce).toBe('n-v');
    const user = await ctx.deps.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirstOrThrow();
    expect(user.email_verified_at).not.toBeNull();
    expect(code.user_id).toBe(user.id);
    expect(await sessionsOf(email)).toHaveLength(1);
    // The link is spent: opened again, it is the dead-link page, as before.
    const again = await v.submit(await v.get(link), '/account/verify');
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('invalid, expired or already used');
  });

  it('same browser, Keymaster /login?state: tokens with the state', async () => {
    const { app } = await makeApp(ctx.deps);
    const email = uniqueEmail();
    const v = new Visitor(ctx);
    const q = new URLSearchParams({ app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, state: 'st-km' });
    const link = await register(v, `/login?${q}`, email);
    const done = await v.submit(await v.get(link), '/account/verify');
    expect(done.statusCode).toBe(303);
    const landed = new URL(done.headers.location as string);
    expect(landed.searchParams.get('access_token')).toBeTruthy();
    expect(landed.searchParams.get('state')).toBe('st-km');
  });

  it('same browser, a third-party app: signed in, on to its consent page', async () => {
    const { app } = await makeApp(ctx.deps, { thirdParty: true });
    const email = uniqueEmail();
    const v = new Visitor(ctx);
    const link = await register(v, `/authorize?${authorizeQuery(app.appId)}`, email);
    const done = await v.submit(await v.get(link), '/account/verify');
    expect(done.statusCode).toBe(303);
    expect(localPath(done)).toMatch(/^\/authorize\/consent\?/);
    expect((await v.get(localPath(done))).body).toContain('value="allow"');
  });

  it('another browser (or a forged binding cookie): verified, not signed in; the sign-in keeps the request', async () => {
    const { app } = await makeApp(ctx.deps);
    const email = uniqueEmail();
    const v = new Visitor(ctx);
    const link = await register(v, `/authorize?${authorizeQuery(app.appId, { state: 'st-fwd' })}`, email);
    const other = new Visitor(ctx);
    other.cookies.km_verify = 'f'.repeat(43);
    const opened = await other.get(link);
    const authz = hiddenFieldsOf(opened.body).authz;
    expect(authz).toBeTruthy();
    const verified = await other.submit(opened, '/account/verify');
    expect(verified.statusCode).toBe(200);
    expect(verified.body).toContain('Email verified');
    expect(other.cookies.km_sso).toBeUndefined();
    expect(await sessionsOf(email)).toEqual([]);
    const signInHref = /href="([^"]+)">Continue to sign in<\/a>/.exec(verified.body)![1]!.replaceAll('&amp;', '&');
    expect(new URL(signInHref, ctx.baseUrl).searchParams.get('authz')).toBe(authz);
    // The registering browser cannot use the spent link afterwards either.
    expect((await v.submit(await v.get(link), '/account/verify')).statusCode).toBe(400);
    expect(v.cookies.km_sso).toBeUndefined();
  });
});
