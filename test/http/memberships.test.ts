// Per-app access (issue 14): each registration policy, suspension in one app only, roles per app,
// refresh picking up role changes, introspection after a suspension, and the Console app's rule.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/domain/apps/apps.js';
import {
  approveMembership,
  getMembership,
  setAppAccess,
  setMembershipRoles,
  setMembershipStatus,
} from '../../src/domain/memberships/memberships.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser, member } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { authorizeQuery, basicAuth, hiddenFieldsOf, obtainCode, pkcePair, postForm } from '../helpers/oidc.js';
import { signIn } from '../helpers/sign-in.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

/** The hosted sign-in (GET + POST /login) as it answers: the status, the location, the page. */
async function postLogin(appId: string, email: string, password: string, cookie?: string) {
  const page = await ctx.app.inject({
    url: `/login?app_id=${appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`,
    ...(cookie && { headers: { cookie } }),
  });
  return ctx.app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
    payload: form({ _csrf: csrfTokenOf(page.body), app_id: appId, redirect_uri: DEFAULT_REDIRECT, email, password }),
  });
}
const apiLogin = (appId: string, email: string, password: string) =>
  ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { app_id: appId, email, password } });
const refresh = (appId: string, refreshToken: string) =>
  ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { app_id: appId, refresh_token: refreshToken } });
const rolesOf = (accessToken: string) => decodeJwt(accessToken).roles;

async function policyApp(policy: 'open' | 'invite' | 'approval', autoAssignRoles: string[] = []): Promise<App> {
  const { app } = await makeApp(ctx.deps);
  await setAppAccess(ctx.deps, app.appId, { registrationPolicy: policy, autoAssignRoles });
  return app;
}

describe('registration policies at sign-in', () => {
  it('open: a first sign-in enrols the user, active, with the auto-assigned roles; last_login_at is recorded', async () => {
    const app = await policyApp('open', ['user']);
    const { user, password } = await makeUser(ctx.deps);
    const { accessToken } = await signIn(ctx, app.appId, user.email, password);
    expect(rolesOf(accessToken)).toEqual(['user']);
    const m = await getMembership(ctx.deps, user.id, app.appId);
    expect(m).toMatchObject({ status: 'active', roles: ['user'] });
    expect(m?.lastLoginAt).toBeInstanceOf(Date);
  });

  it('invite: a non-member is refused at /login (branded page) and /api/v1/auth/login with "You do not have access"; nothing is enrolled', async () => {
    const app = await policyApp('invite');
    const { user, password } = await makeUser(ctx.deps);
    const page = await postLogin(app.appId, user.email, password);
    expect(page.statusCode).toBe(403);
    expect(page.body).toContain('You do not have access');
    // The way back: the app's sign-in page.
    expect(page.body).toContain(`/login?app_id=${app.appId}`);
    const api = await apiLogin(app.appId, user.email, password);
    expect(api.statusCode).toBe(403);
    expect(api.json()).toEqual({ detail: 'You do not have access' });
    expect(await getMembership(ctx.deps, user.id, app.appId)).toBeUndefined();
    // A member (enrolled by an admin or an invite) signs in.
    await setMembershipRoles(ctx.deps, { userId: user.id, appId: app.appId, roles: ['manager'] });
    expect(rolesOf((await signIn(ctx, app.appId, user.email, password)).accessToken)).toEqual(['manager']);
  });

  it('invite: registration (API and hosted sign-up) is refused with "This app requires an invite code"', async () => {
    const app = await policyApp('invite');
    const api = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { app_id: app.appId, email: 'new-invitee@example.com', password: 'Correct-Horse-9!' },
    });
    expect(api.statusCode).toBe(400);
    expect(api.json()).toEqual({ detail: 'This app requires an invite code' });
    const page = await ctx.app.inject({
      url: `/account/register?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`,
    });
    const post = await ctx.app.inject({
      method: 'POST',
      url: '/account/register',
      headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
      payload: form({
        ...hiddenFieldsOf(page.body),
        _csrf: csrfTokenOf(page.body),
        email: 'new-invitee2@example.com',
        password: 'Correct-Horse-9!',
        name: 'N',
      }),
    });
    expect(post.statusCode).toBe(400);
    expect(post.body).toContain('This app requires an invite code');
    const made = await ctx.deps.db
      .selectFrom('users')
      .select('id')
      .where('email', 'in', ['new-invitee@example.com', 'new-invitee2@example.com'])
      .execute();
    expect(made).toEqual([]);
  });

  it('approval: the first sign-in enrols the user as pending and is refused (waiting for approval) until approved', async () => {
    const app = await policyApp('approval', ['user']);
    const { user, password } = await makeUser(ctx.deps);
    const page = await postLogin(app.appId, user.email, password);
    expect(page.statusCode).toBe(403);
    expect(page.body).toContain('waiting for approval');
    expect(await getMembership(ctx.deps, user.id, app.appId)).toMatchObject({ status: 'pending', roles: ['user'] });
    const api = await apiLogin(app.appId, user.email, password);
    expect(api.statusCode).toBe(403);
    expect(api.json().detail).toMatch(/waiting for approval/);
    await approveMembership(ctx.deps, { userId: user.id, appId: app.appId });
    expect(rolesOf((await signIn(ctx, app.appId, user.email, password)).accessToken)).toEqual(['user']);
  });

  it('a refused page is translated (de)', async () => {
    const app = await policyApp('invite');
    const { user, password } = await makeUser(ctx.deps);
    const page = await ctx.app.inject({
      url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`,
      headers: { 'accept-language': 'de' },
    });
    const post = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)), 'accept-language': 'de' },
      payload: form({ _csrf: csrfTokenOf(page.body), app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, email: user.email, password }),
    });
    expect(post.statusCode).toBe(403);
    expect(post.body).toContain('<h1>Sie haben keinen Zugriff</h1>');
  });
});

describe('suspension is per app', () => {
  it('suspended in A: /login, /api/v1/auth/login and refresh are 403 "Account suspended" in A; B works; reactivated, the same refresh token works again', async () => {
    const { app: a } = await makeApp(ctx.deps);
    const { app: b } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const inA = await signIn(ctx, a.appId, user.email, password);
    const inB = await signIn(ctx, b.appId, user.email, password);
    await setMembershipStatus(ctx.deps, { userId: user.id, appId: a.appId, status: 'suspended' });

    const page = await postLogin(a.appId, user.email, password);
    expect(page.statusCode).toBe(403);
    expect(page.body).toContain('Account suspended');
    const api = await apiLogin(a.appId, user.email, password);
    expect(api.statusCode).toBe(403);
    expect(api.json()).toEqual({ detail: 'Account suspended' });
    const refused = await refresh(a.appId, inA.refreshToken);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error_description ?? refused.json().detail ?? refused.body).toMatch(/Account suspended/);
    // The SSO fast path is a sign-in too.
    const sso = await ctx.app.inject({
      url: `/login?app_id=${a.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`,
      headers: { cookie: `km_sso=${inA.sso}` },
    });
    expect(sso.statusCode).toBe(403);

    expect((await postLogin(b.appId, user.email, password)).statusCode).toBe(303);
    expect((await apiLogin(b.appId, user.email, password)).statusCode).toBe(200);
    expect((await refresh(b.appId, inB.refreshToken)).statusCode).toBe(200);

    await setMembershipStatus(ctx.deps, { userId: user.id, appId: a.appId, status: 'active' });
    expect((await refresh(a.appId, inA.refreshToken)).statusCode).toBe(200);
  });

  it("introspection: A's live access token is inactive at once after the suspension, B's stays active", async () => {
    const { app: a, clientSecret: secretA } = await makeApp(ctx.deps);
    const { app: b, clientSecret: secretB } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const tokenA = (await signIn(ctx, a.appId, user.email, password)).accessToken;
    const tokenB = (await signIn(ctx, b.appId, user.email, password)).accessToken;
    // Each app introspects its own tokens.
    const active = async (token: string, app: App, secret: string) =>
      (await postForm(ctx, '/introspect', { token }, { authorization: basicAuth(app.appId, secret) })).json().active as boolean;
    expect(await active(tokenA, a, secretA)).toBe(true);
    await setMembershipStatus(ctx.deps, { userId: user.id, appId: a.appId, status: 'suspended' });
    expect(await active(tokenA, a, secretA)).toBe(false);
    expect(await active(tokenB, b, secretB)).toBe(true);
    const verify = await ctx.app.inject({ method: 'POST', url: '/token/verify', payload: { token: tokenA } });
    expect(verify.json().valid).toBe(false);
    const userinfo = await ctx.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokenA}` } });
    expect(userinfo.statusCode).toBe(401);
  });

  it('OAuth refresh_token grant of a suspended member: 400 invalid_grant; the token is kept', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, { grantTypes: ['authorization_code', 'refresh_token'] });
    const { user, password } = await makeUser(ctx.deps);
    const pkce = pkcePair();
    const { code } = await obtainCode(
      ctx,
      app.appId,
      { email: user.email, password },
      {
        scope: 'openid offline_access',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      },
    );
    const auth = { authorization: basicAuth(app.appId, clientSecret) };
    const tokens = (
      await postForm(
        ctx,
        '/token',
        { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT, code_verifier: pkce.verifier },
        auth,
      )
    ).json();
    await setMembershipStatus(ctx.deps, { userId: user.id, appId: app.appId, status: 'suspended' });
    const res = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, auth);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_grant');
  });
});

describe('roles per app', () => {
  it("admin in A is not admin in B's token; a role change shows in the next refresh", async () => {
    const { app: a } = await makeApp(ctx.deps);
    const { app: b } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    await setMembershipRoles(ctx.deps, { userId: user.id, appId: a.appId, roles: ['admin'] });
    await setMembershipRoles(ctx.deps, { userId: user.id, appId: b.appId, roles: ['user'] });
    const inA = await signIn(ctx, a.appId, user.email, password);
    const inB = await signIn(ctx, b.appId, user.email, password);
    expect(rolesOf(inA.accessToken)).toEqual(['admin']);
    expect(rolesOf(inB.accessToken)).toEqual(['user']);

    await setMembershipRoles(ctx.deps, { userId: user.id, appId: a.appId, roles: ['manager', 'user'] });
    const res = await refresh(a.appId, inA.refreshToken);
    expect(res.statusCode).toBe(200);
    expect(rolesOf(res.json().access_token)).toEqual(['manager', 'user']);
    const userinfo = await ctx.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${res.json().access_token}` } });
    expect(userinfo.json().roles).toEqual(['manager', 'user']);
  });

  it("roles outside the app's available_roles are refused (400) and nothing is written", async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    await expect(setMembershipRoles(ctx.deps, { userId: user.id, appId: app.appId, roles: ['user', 'owner'] })).rejects.toMatchObject({
      reason: 'role_not_available',
      code: 'invalid_request',
    });
    expect(await getMembership(ctx.deps, user.id, app.appId)).toBeUndefined();
  });
});

describe('OAuth /authorize', () => {
  it('an SSO session on an invite app: redirected back with error=access_denied and a description', async () => {
    const { app: open } = await makeApp(ctx.deps);
    const app = await policyApp('invite');
    const { user, password } = await makeUser(ctx.deps);
    const { sso } = await signIn(ctx, open.appId, user.email, password);
    const res = await ctx.app.inject({ url: `/authorize?${authorizeQuery(app.appId)}`, headers: { cookie: `km_sso=${sso}` } });
    expect(res.statusCode).toBe(303);
    const loc = new URL(res.headers.location as string);
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('error_description')).toBe('You do not have access');
  });

  it('the sign-in form of an /authorize request: the refusal page leads back to the client with access_denied', async () => {
    const app = await policyApp('invite');
    const { user, password } = await makeUser(ctx.deps);
    const page = await ctx.app.inject({ url: `/authorize?${authorizeQuery(app.appId)}` });
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
      payload: new URLSearchParams({ ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), email: user.email, password }).toString(),
    });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('You do not have access');
    expect(res.body).toContain('error=access_denied');
  });
});

describe('the built-in Console app', () => {
  it('admits only a user with an admin grant (no membership needed)', async () => {
    const { app } = await makeApp(ctx.deps);
    // The server made its own Console app at start-up; this test's app stands in for it.
    const started = await ctx.deps.db
      .updateTable('apps')
      .set({ builtin: null })
      .where('builtin', '=', 'console')
      .returning('app_id')
      .execute();
    await ctx.deps.db.updateTable('apps').set({ builtin: 'console' }).where('app_id', '=', app.appId).execute();
    try {
      const { user, password } = await makeUser(ctx.deps);
      const page = await postLogin(app.appId, user.email, password);
      expect(page.statusCode).toBe(403);
      expect(page.body).toContain('You do not have access');
      // An app's own admin role is not a Console right.
      await member(ctx.deps, user, app, ['admin']);
      expect((await apiLogin(app.appId, user.email, password)).statusCode).toBe(403);
      await ctx.deps.db.deleteFrom('memberships').where('user_id', '=', user.id).execute();
      await ctx.deps.db.insertInto('admin_grants').values({ user_id: user.id, tier: 'platform_admin' }).execute();
      const ok = await apiLogin(app.appId, user.email, password);
      expect(ok.statusCode).toBe(200);
      // Its refresh works without a membership too.
      expect((await refresh(app.appId, ok.json().refresh_token)).statusCode).toBe(200);
    } finally {
      await ctx.deps.db.updateTable('apps').set({ builtin: null }).where('app_id', '=', app.appId).execute();
      for (const { app_id } of started)
        await ctx.deps.db.updateTable('apps').set({ builtin: 'console' }).where('app_id', '=', app_id).execute();
    }
  });
});
