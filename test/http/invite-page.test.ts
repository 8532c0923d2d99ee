// The hosted accept-invite page (issue 14): the link from the email shows a form (GET spends nothing);
// a new user gives a name and a password, an existing one their password; then the user is signed in
// and continues to the app's sign-in, which answers at once (SSO).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvite } from '../../src/domain/invites/invites.js';
import { getMembership, setAppAccess } from '../../src/domain/memberships/memberships.js';
import { startSession } from '../../src/domain/sessions/sessions.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

async function openPage(appId: string, code: string, sso?: string) {
  const page = await ctx.app.inject({
    url: `/invite?app_id=${appId}&code=${encodeURIComponent(code)}`,
    headers: sso ? { cookie: `km_sso=${sso}` } : {},
  });
  return { page, cookies: cookiesOf(page), csrf: page.statusCode < 500 && page.body.includes('_csrf') ? csrfTokenOf(page.body) : '' };
}
async function submit(appId: string, code: string, fields: Record<string, string>, sso?: string, url = '/invite') {
  const { cookies, csrf } = await openPage(appId, code, sso);
  return ctx.app.inject({
    method: 'POST',
    url,
    headers: { ...FORM, cookie: cookieHeader({ ...cookies, ...(sso && { km_sso: sso }) }) },
    payload: form({ _csrf: csrf, app_id: appId, code, ...fields }),
  });
}
const signIn = async (userId: string) => (await startSession(ctx.deps, userId, {}, ['pwd'])).cookieValue;
const liveSessions = async (userId: string) =>
  (await ctx.deps.db.selectFrom('sessions').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute()).length;

describe('GET/POST /invite', () => {
  it('a new user: name + password → joined, signed in; the app sign-in answers at once; the link then is dead', async () => {
    const { app } = await makeApp(ctx.deps);
    await setAppAccess(ctx.deps, app.appId, { registrationPolicy: 'invite' });
    const email = `page-invitee-${Date.now()}@example.com`;
    const { code } = await createInvite(ctx.deps, { appId: app.appId, email, roles: ['user'] });
    const { page } = await openPage(app.appId, code);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(email);
    expect(page.body).toContain('autocomplete="new-password"');
    const res = await submit(app.appId, code, { name: 'Page Person', password: 'Correct-Horse-9!' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`You have joined ${app.name}`);
    const sso = cookiesOf(res).km_sso;
    expect(sso).toBeTruthy();
    const user = await ctx.deps.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirstOrThrow();
    expect(await getMembership(ctx.deps, user.id, app.appId)).toMatchObject({ status: 'active', roles: ['user'] });
    const link = /href="(\/login\?[^"]+)"/.exec(res.body)![1]!.replaceAll('&amp;', '&');
    const cont = await ctx.app.inject({ url: link, headers: { cookie: `km_sso=${sso}` } });
    expect(cont.statusCode).toBe(303);
    expect(new URL(cont.headers.location as string).searchParams.get('access_token')).toBeTruthy();
    // Used: the page now says so (400).
    const dead = await ctx.app.inject({ url: `/invite?app_id=${app.appId}&code=${encodeURIComponent(code)}` });
    expect(dead.statusCode).toBe(400);
    expect(dead.body).toContain('This invitation is not valid');
    // The app's own page, titled for what happened, with a way on to the app's sign-in (not a fault: no reference).
    expect(dead.body).toContain('<h1>This invitation no longer works</h1>');
    expect(dead.body).toContain(app.name);
    expect(dead.body).toContain(`href="/login?app_id=${app.appId}&amp;redirect_uri=`);
    expect(dead.body).not.toContain('Reference:');
    // An unknown app: the start page is the way back.
    const unknown = await ctx.app.inject({ url: `/invite?app_id=nope&code=x` });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('href="/"');
  });

  it('an existing user signs in with their password; a wrong one is refused and nothing is enrolled', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const { code } = await createInvite(ctx.deps, { appId: app.appId, email: user.email });
    const { page } = await openPage(app.appId, code);
    expect(page.body).toContain('autocomplete="current-password"');
    const wrong = await submit(app.appId, code, { password: 'Wrong-Horse-9!' });
    expect(wrong.statusCode).toBe(401);
    expect(await getMembership(ctx.deps, user.id, app.appId)).toBeUndefined();
    const ok = await submit(app.appId, code, { password });
    expect(ok.statusCode).toBe(200);
    expect(await getMembership(ctx.deps, user.id, app.appId)).toMatchObject({ status: 'active' });
  });

  it('signed in as the invited user: the page offers one click, no password, and keeps the session', async () => {
    const { app } = await makeApp(ctx.deps);
    await setAppAccess(ctx.deps, app.appId, { registrationPolicy: 'invite' });
    const { user } = await makeUser(ctx.deps);
    const sso = await signIn(user.id);
    const { code } = await createInvite(ctx.deps, { appId: app.appId, email: user.email.toUpperCase(), roles: ['user'] });
    const { page } = await openPage(app.appId, code, sso);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`You are signed in as ${user.email}`);
    expect(page.body).not.toContain('type="password"');
    const ok = await submit(app.appId, code, {}, sso);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain(`You have joined ${app.name}`);
    expect(cookiesOf(ok).km_sso).toBeUndefined(); // the session it had goes on
    expect(await getMembership(ctx.deps, user.id, app.appId)).toMatchObject({ status: 'active', roles: ['user'] });
    expect(await liveSessions(user.id)).toBe(1);
  });

  it('signed in as someone else: the page says so, never accepts for that account, and offers to switch', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user: other } = await makeUser(ctx.deps);
    const { user: invited, password } = await makeUser(ctx.deps);
    const sso = await signIn(other.id);
    const { code } = await createInvite(ctx.deps, { appId: app.appId, email: invited.email });
    const { page } = await openPage(app.appId, code, sso);
    expect(page.statusCode).toBe(409);
    expect(page.body).toContain(`This invitation is for ${invited.email}, but you are signed in as ${other.email}`);
    expect(page.body).toContain('action="/invite/switch"');
    expect(page.body).not.toContain('type="password"');
    // A post from the signed-in browser is refused even with the invited account's password.
    const refused = await submit(app.appId, code, { password }, sso);
    expect(refused.statusCode).toBe(409);
    expect(await getMembership(ctx.deps, other.id, app.appId)).toBeUndefined();
    expect(await getMembership(ctx.deps, invited.id, app.appId)).toBeUndefined();
    // A new invitee's email: no account is made while someone else is signed in.
    const fresh = `fresh-${Date.now()}@example.com`;
    const second = await createInvite(ctx.deps, { appId: app.appId, email: fresh });
    const refusedNew = await submit(app.appId, second.code, { name: 'New', password: 'Correct-Horse-9!' }, sso);
    expect(refusedNew.statusCode).toBe(409);
    expect(await ctx.deps.db.selectFrom('users').select('id').where('email', '=', fresh).executeTakeFirst()).toBeUndefined();
    // Switch: the session ends, the cookie goes, and the browser is back on the invite, signed out.
    const switched = await submit(app.appId, code, {}, sso, '/invite/switch');
    expect(switched.statusCode).toBe(303);
    expect(switched.headers.location).toBe(`/invite?app_id=${app.appId}&code=${encodeURIComponent(code)}`);
    expect(cookiesOf(switched).km_sso).toBe('');
    expect(await liveSessions(other.id)).toBe(0);
    const after = await openPage(app.appId, code);
    expect(after.page.body).toContain('autocomplete="current-password"');
    const ok = await submit(app.appId, code, { password });
    expect(ok.statusCode).toBe(200);
    expect(await getMembership(ctx.deps, invited.id, app.appId)).toMatchObject({ status: 'active' });
  });

  it('/invite/switch refuses a post without its CSRF token and ends nothing', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const sso = await signIn(user.id);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/invite/switch',
      headers: { ...FORM, cookie: `km_sso=${sso}` },
      payload: form({ app_id: app.appId, code: 'x' }),
    });
    expect(res.statusCode).toBe(403);
    expect(await liveSessions(user.id)).toBe(1);
  });
});
