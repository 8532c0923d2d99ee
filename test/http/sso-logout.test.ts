// GET/POST /sso/logout: confirmation with a live session, session row + cookie ended, continue only
// to a registered post_logout_redirect_uri.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSession } from '../../src/domain/sessions/sessions.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_LOGOUT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const logoutUrl = (appId: string, uri = DEFAULT_LOGOUT) =>
  `/sso/logout?app_id=${appId}&post_logout_redirect_uri=${encodeURIComponent(uri)}`;

describe('/sso/logout', () => {
  it('asks once, then ends the session (row and cookie) and continues to the registered URI', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Acme' });
    const { user } = await makeUser(ctx.deps);
    const { cookieValue, session } = await startSession(ctx.deps, user.id);
    const confirm = await ctx.app.inject({ url: logoutUrl(app.appId), headers: { cookie: `km_sso=${cookieValue}` } });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('>Sign out</button>');
    expect(confirm.body).toContain(user.email);
    const cookies = { ...cookiesOf(confirm), km_sso: cookieValue };
    const done = await ctx.app.inject({
      method: 'POST',
      url: '/sso/logout',
      headers: { ...FORM, cookie: cookieHeader(cookies) },
      payload: form({ _csrf: csrfTokenOf(confirm.body), app_id: app.appId, post_logout_redirect_uri: DEFAULT_LOGOUT }),
    });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('You have been signed out of Acme.');
    expect(done.body).toContain(`href="${DEFAULT_LOGOUT}"`);
    const cleared = (done.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]).find((c) => c.name === 'km_sso');
    expect(cleared?.value).toBe('');
    const row = await ctx.deps.db.selectFrom('sessions').select('revoked_at').where('id', '=', session.id).executeTakeFirstOrThrow();
    expect(row.revoked_at).not.toBeNull();
  });

  it('without a session: the signed-out page at once', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await ctx.app.inject({ url: logoutUrl(app.appId) });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('You have been signed out');
  });

  it.each([
    ['unregistered', 'https://evil.example.com/'],
    ['look-alike', `${DEFAULT_LOGOUT}/`],
    ['added query', `${DEFAULT_LOGOUT}?x=1`],
  ])('%s post_logout_redirect_uri → 400 page, never a link or redirect to it', async (_n, uri) => {
    const { app } = await makeApp(ctx.deps);
    const res = await ctx.app.inject({ url: logoutUrl(app.appId, uri!) });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).not.toContain(`href="${uri}"`);
  });

  it('a POST without CSRF token does not end the session', async () => {
    const { user } = await makeUser(ctx.deps);
    const { cookieValue, session } = await startSession(ctx.deps, user.id);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/sso/logout',
      headers: { ...FORM, cookie: `km_sso=${cookieValue}` },
      payload: '',
    });
    expect(res.statusCode).toBe(403);
    const row = await ctx.deps.db.selectFrom('sessions').select('revoked_at').where('id', '=', session.id).executeTakeFirstOrThrow();
    expect(row.revoked_at).toBeNull();
  });
});
