// Claims by scope (OIDC Core §5.4), as the conformance suite's oidcc-scope-* modules check them: the
// ID token, /userinfo and the OAuth-flow access token carry exactly what the granted scope allows;
// `openid` alone gives sub and nothing else. Keymaster's own /login tokens keep their claims.
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINUTE, type FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { cookiesOf, csrfTokenOf, FORM, cookieHeader } from '../../helpers/http.js';
import { basicAuth, hiddenFieldsOf, obtainCode, postForm } from '../../helpers/oidc.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

const USER_CLAIMS = ['name', 'updated_at', 'email', 'email_verified', 'roles'];
const epoch = (d: Date) => Math.floor(d.getTime() / 1000);

async function signedIn(scope: string) {
  const { app, clientSecret } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps, { name: 'Grace Hopper', memberOf: { app, roles: ['editor'] } });
  const { code } = await obtainCode(ctx, app.appId, { email: user.email, password }, { scope });
  const auth = { authorization: basicAuth(app.appId, clientSecret) };
  const res = await postForm(ctx, '/token', { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT }, auth);
  expect(res.statusCode).toBe(200);
  const tokens = res.json() as { access_token: string; id_token: string; refresh_token?: string; scope: string };
  expect(tokens.scope).toBe(scope);
  return { app, user, auth, tokens };
}

async function idToken(token: string, audience: string) {
  const jwks = createLocalJWKSet(JSON.parse(ctx.deps.keys.jwksBody));
  const { payload } = await jwtVerify(token, jwks, { issuer: ctx.deps.config.issuer, audience, currentDate: ctx.clock.now() });
  return payload;
}

async function userinfo(token: string) {
  const res = await ctx.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } });
  expect(res.statusCode).toBe(200);
  return res.json() as Record<string, unknown>;
}

/** The user claims (of USER_CLAIMS) a set of claims has. */
const userClaimsOf = (claims: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(claims).filter(([k]) => USER_CLAIMS.includes(k)));

async function updatedAt(userId: string): Promise<number> {
  const row = await ctx.deps.db.selectFrom('users').select('updated_at').where('id', '=', userId).executeTakeFirstOrThrow();
  return epoch(row.updated_at);
}

describe('claims by scope (OIDC Core §5.4)', () => {
  it('oidcc-scope-profile: name and updated_at in the ID token, at /userinfo and in the access token; kept current through a rename and a refresh', async () => {
    const s = await signedIn('openid profile offline_access');
    const profile = { name: 'Grace Hopper', updated_at: await updatedAt(s.user.id) };
    expect(userClaimsOf(await idToken(s.tokens.id_token, s.app.appId))).toEqual(profile);
    expect(await userinfo(s.tokens.access_token)).toEqual({ sub: s.user.id, ...profile });
    expect(userClaimsOf(decodeJwt(s.tokens.access_token))).toEqual(profile);

    // A change to the profile moves updated_at (the user's own PATCH /me, later on the clock).
    (ctx.clock as FixedClock).advance(5 * MINUTE);
    const patch = await ctx.app.inject({
      method: 'PATCH',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${s.tokens.access_token}` },
      payload: { name: 'Rear Admiral Hopper' },
    });
    expect(patch.statusCode).toBe(200);
    const renamed = { name: 'Rear Admiral Hopper', updated_at: epoch(ctx.clock.now()) };
    expect(await updatedAt(s.user.id)).toBe(renamed.updated_at);
    expect(await userinfo(s.tokens.access_token)).toEqual({ sub: s.user.id, ...renamed });
    // The refresh's one-statement rotation reads the same claims from users.
    const refreshed = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: s.tokens.refresh_token }, s.auth);
    expect(refreshed.statusCode).toBe(200);
    expect(userClaimsOf(await idToken(refreshed.json().id_token, s.app.appId))).toEqual(renamed);
    expect(userClaimsOf(decodeJwt(refreshed.json().access_token))).toEqual(renamed);
  });

  it('oidcc-scope-email: email and email_verified, nothing of the profile or roles', async () => {
    const s = await signedIn('openid email');
    const email = { email: s.user.email, email_verified: true };
    expect(userClaimsOf(await idToken(s.tokens.id_token, s.app.appId))).toEqual(email);
    expect(await userinfo(s.tokens.access_token)).toEqual({ sub: s.user.id, ...email });
    expect(userClaimsOf(decodeJwt(s.tokens.access_token))).toEqual(email);
  });

  it('the roles scope: roles, and nothing else of the user', async () => {
    const s = await signedIn('openid roles');
    const roles = { roles: ['editor'] };
    expect(userClaimsOf(await idToken(s.tokens.id_token, s.app.appId))).toEqual(roles);
    expect(await userinfo(s.tokens.access_token)).toEqual({ sub: s.user.id, ...roles });
    expect(userClaimsOf(decodeJwt(s.tokens.access_token))).toEqual(roles);
  });

  it('openid only: the ID token and the access token carry no email, name or roles, and /userinfo returns only sub', async () => {
    const s = await signedIn('openid');
    expect(userClaimsOf(await idToken(s.tokens.id_token, s.app.appId))).toEqual({});
    expect(userClaimsOf(decodeJwt(s.tokens.access_token))).toEqual({});
    expect(await userinfo(s.tokens.access_token)).toEqual({ sub: s.user.id });
  });

  it("Keymaster's own /login token is unchanged: its claims, and /userinfo's answer for it", async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { name: 'Grace Hopper', memberOf: { app, roles: ['editor'] } });
    const page = await ctx.app.inject({ url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}` });
    const cookies = cookiesOf(page);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookies) },
      payload: new URLSearchParams({ ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), email: user.email, password }).toString(),
    });
    expect(res.statusCode).toBe(303);
    const token = new URL(res.headers.location as string).searchParams.get('access_token')!;
    expect(decodeJwt(token)).toMatchObject({ sub: user.id, email: user.email, name: 'Grace Hopper', roles: ['editor'], aud: app.appId });
    expect(decodeJwt(token)).not.toHaveProperty('scope');
    expect(await userinfo(token)).toEqual({
      sub: user.id,
      email: user.email,
      email_verified: true,
      name: 'Grace Hopper',
      roles: ['editor'],
    });
  });

  it('discovery advertises the roles scope and the claims', async () => {
    const doc = (await ctx.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'roles']));
    expect(doc.claims_supported).toEqual(expect.arrayContaining(USER_CLAIMS));
  });
});
