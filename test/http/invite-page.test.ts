// The hosted accept-invite page (issue 14): the link from the email shows a form (GET spends nothing);
// a new user gives a name and a password, an existing one their password; then the user is signed in
// and continues to the app's sign-in, which answers at once (SSO).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvite } from '../../src/domain/invites/invites.js';
import { getMembership, setAppAccess } from '../../src/domain/memberships/memberships.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

async function openPage(appId: string, code: string) {
  const page = await ctx.app.inject({ url: `/invite?app_id=${appId}&code=${encodeURIComponent(code)}` });
  return { page, cookies: cookiesOf(page), csrf: page.statusCode === 200 ? csrfTokenOf(page.body) : '' };
}
async function submit(appId: string, code: string, fields: Record<string, string>) {
  const { cookies, csrf } = await openPage(appId, code);
  return ctx.app.inject({
    method: 'POST',
    url: '/invite',
    headers: { ...FORM, cookie: cookieHeader(cookies) },
    payload: form({ _csrf: csrf, app_id: appId, code, ...fields }),
  });
}

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
});
