// A third-party app gets tokens only through /authorize with consent (issue 16 review): Keymaster's
// own flow (/login without a sealed request, the SSO fast path, /api/v1/auth/login) is refused for it
// with the branded page or {detail}, and nothing is written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const loginUrl = (appId: string, extra = '') =>
  `/login?app_id=${encodeURIComponent(appId)}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}${extra}`;

async function rowsOf(userId: string) {
  const n = async (table: 'refresh_tokens' | 'sessions' | 'authorization_codes') =>
    Number(
      (
        await ctx.deps.db
          .selectFrom(table)
          .where('user_id', '=', userId)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { refresh: await n('refresh_tokens'), sessions: await n('sessions'), codes: await n('authorization_codes') };
}

/** Signs in on a first-party app's /login: the SSO cookie, and a form page (csrf) to post from. */
async function firstPartySession() {
  const { app } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps);
  const page = await ctx.app.inject({ url: loginUrl(app.appId) });
  const cookies = cookiesOf(page);
  const csrf = csrfTokenOf(page.body);
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, cookie: cookieHeader(cookies) },
    payload: form({ _csrf: csrf, app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, email: user.email, password }),
  });
  expect(res.statusCode).toBe(303);
  return { user, password, csrf, cookies, sso: cookiesOf(res).km_sso! };
}

describe('third_party_needs_oauth', () => {
  it('GET /login with a live SSO session: the branded refusal, no tokens, no rows', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Gadget Store', thirdParty: true });
    const { user, sso } = await firstPartySession();
    const before = await rowsOf(user.id);
    for (const extra of ['', '&prompt=login']) {
      const res = await ctx.app.inject({ url: loginUrl(app.appId, extra), headers: { cookie: `km_sso=${sso}` } });
      expect(res.statusCode).toBe(403);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.body).toContain('must use the standard OAuth sign-in');
      expect(res.body).not.toContain('access_token');
    }
    expect(await rowsOf(user.id)).toEqual(before);
  });

  it('the refusal is translated', async () => {
    const { app } = await makeApp(ctx.deps, { thirdParty: true });
    const res = await ctx.app.inject({ url: loginUrl(app.appId), headers: { 'accept-language': 'de' } });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('Standard-OAuth-Anmeldung');
  });

  it('POST /login with the right password and no authz: refused, no tokens, no rows', async () => {
    const { app } = await makeApp(ctx.deps, { thirdParty: true });
    const { user, password, csrf, cookies } = await firstPartySession();
    const before = await rowsOf(user.id);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookies) },
      payload: form({ _csrf: csrf, app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, email: user.email, password }),
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toContain('must use the standard OAuth sign-in');
    expect(cookiesOf(res).km_sso).toBeUndefined();
    expect(await rowsOf(user.id)).toEqual(before);
  });

  it('POST /api/v1/auth/login: 403 {detail}, no tokens, no rows', async () => {
    const { app } = await makeApp(ctx.deps, { thirdParty: true });
    const { user, password } = await makeUser(ctx.deps);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password, app_id: app.appId },
    });
    expect(res.statusCode).toBe(403);
    const body = res.json<{ detail: string }>();
    expect(body.detail).toMatch(/standard OAuth/);
    expect(Object.keys(body)).toEqual(['detail']);
    expect(await rowsOf(user.id)).toEqual({ refresh: 0, sessions: 0, codes: 0 });
  });

  it('a first-party app still signs in through /api/v1/auth/login', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password, app_id: app.appId },
    });
    expect(res.statusCode).toBe(200);
    expect((await rowsOf(user.id)).refresh).toBe(1);
  });
});
