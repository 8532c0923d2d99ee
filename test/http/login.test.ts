import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

async function openLogin(appId: string, extra = '') {
  const res = await ctx.app.inject({ url: `/login?app_id=${appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}${extra}` });
  return { res, csrf: res.statusCode === 200 ? csrfTokenOf(res.body) : '', cookies: cookiesOf(res) };
}

describe('hosted sign-in', () => {
  it('renders the branded page and signs in', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Acme <b>Portal</b>' });
    const { user, password } = await makeUser(ctx.deps);
    const { res, csrf, cookies } = await openLogin(app.appId, '&state=s1');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Acme &lt;b&gt;Portal&lt;/b&gt;');
    expect(res.body).toContain('>Sign in</button>');
    const post = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: cookieHeader(cookies) },
      payload: form({ _csrf: csrf, app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, state: 's1', email: user.email, password }),
    });
    expect(post.statusCode).toBe(303);
    const loc = new URL(post.headers.location as string);
    expect(loc.origin + loc.pathname).toBe(DEFAULT_REDIRECT);
    expect(loc.searchParams.get('state')).toBe('s1');
    expect(loc.searchParams.get('refresh_token')).toMatch(/^[0-9a-f]{64}$/);
    expect(cookiesOf(post).km_sso).toMatch(/^[0-9a-f]{64}$/);
  });
});
