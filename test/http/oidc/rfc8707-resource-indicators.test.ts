// Resource Indicators (RFC 8707): a `resource` at /authorize or /token, one of the app's registered
// resources, becomes the access token's aud; anything else is invalid_target (§2), and a refusal at
// /token spends nothing. Without a resource, aud stays the client's app id.
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { basicAuth, obtainCode, postForm } from '../../helpers/oidc.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed', env: { KEYMASTER_REFRESH_REUSE_INTERVAL: '0' } });
});
afterAll(() => ctx.close());

const API = 'https://api.example.com/';
const BILLING = 'urn:example:billing';

async function setup(extra: Record<string, string | undefined> = {}) {
  const { app, clientSecret } = await makeApp(ctx.deps, {
    resources: [API, BILLING],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    allowedScopes: ['openid', 'email', 'offline_access', 'push:send'],
  });
  const { user, password } = await makeUser(ctx.deps);
  const auth = { authorization: basicAuth(app.appId, clientSecret) };
  const obtain = () => obtainCode(ctx, app.appId, { email: user.email, password }, { scope: 'openid email offline_access', ...extra });
  return { app, user, auth, obtain };
}

const exchange = (code: string, auth: Record<string, string>, over: Record<string, string> = {}) =>
  postForm(ctx, '/token', { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT, ...over }, auth);

async function verifiedAud(token: string, audience: string) {
  const jwks = createLocalJWKSet(JSON.parse(ctx.deps.keys.jwksBody));
  const { payload } = await jwtVerify(token, jwks, { issuer: ctx.deps.config.issuer, audience, currentDate: ctx.clock.now() });
  return payload;
}

describe('RFC 8707 resource indicators', () => {
  it('a resource at /authorize sets the access token aud; the ID token stays the client’s; introspection answers the client', async () => {
    const s = await setup({ resource: API });
    const { code } = await s.obtain();
    const res = await exchange(code, s.auth);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(await verifiedAud(body.access_token, API)).toMatchObject({ aud: API, client_id: s.app.appId, sub: s.user.id });
    expect(decodeJwt(body.id_token).aud).toBe(s.app.appId);
    const intro = await postForm(ctx, '/introspect', { token: body.access_token }, s.auth);
    expect(intro.json()).toMatchObject({ active: true, client_id: s.app.appId, aud: API });
    const row = await ctx.deps.db.selectFrom('authorization_codes').select('resource').where('user_id', '=', s.user.id).executeTakeFirst();
    expect(row?.resource).toBe(API);
  });

  it('a token issued for a resource server is refused by the account API; the same grant without a resource is accepted', async () => {
    const s = await setup();
    const { code } = await s.obtain();
    const first = await exchange(code, s.auth, { resource: API });
    expect(decodeJwt(first.json().access_token).aud).toBe(API);
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    for (const [method, url] of [
      ['GET', '/api/v1/auth/me'],
      ['GET', '/api/v1/auth/sessions'],
      ['DELETE', '/api/v1/auth/sessions'],
    ] as const) {
      const res = await ctx.app.inject({ method, url, headers: bearer(first.json().access_token) });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
    // Refused, so nothing was ended: the refresh token still works, and its token (aud = the app) is accepted.
    const plain = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: first.json().refresh_token }, s.auth);
    expect(plain.statusCode).toBe(200);
    const me = await ctx.app.inject({ url: '/api/v1/auth/me', headers: bearer(plain.json().access_token) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: s.user.id });
  });

  it('a resource at /token (code exchange, refresh, client credentials) sets aud; without one aud is the client', async () => {
    const s = await setup();
    const { code } = await s.obtain();
    const first = await exchange(code, s.auth, { resource: BILLING });
    expect(first.statusCode).toBe(200);
    expect(decodeJwt(first.json().access_token).aud).toBe(BILLING);
    const refreshed = await postForm(
      ctx,
      '/token',
      { grant_type: 'refresh_token', refresh_token: first.json().refresh_token, resource: API },
      s.auth,
    );
    expect(refreshed.statusCode).toBe(200);
    expect(decodeJwt(refreshed.json().access_token)).toMatchObject({ aud: API, client_id: s.app.appId });
    const plain = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: refreshed.json().refresh_token }, s.auth);
    expect(decodeJwt(plain.json().access_token).aud).toBe(s.app.appId);

    const service = await postForm(ctx, '/token', { grant_type: 'client_credentials', scope: 'push:send', resource: API }, s.auth);
    expect(service.statusCode).toBe(200);
    expect(decodeJwt(service.json().access_token)).toMatchObject({ aud: API, sub: s.app.appId, client_id: s.app.appId });
    const own = await postForm(ctx, '/token', { grant_type: 'client_credentials', scope: 'push:send' }, s.auth);
    expect(decodeJwt(own.json().access_token).aud).toBe(s.app.appId);
    const intro = await postForm(ctx, '/introspect', { token: service.json().access_token }, s.auth);
    expect(intro.json()).toMatchObject({ active: true, token_type: 'service', aud: API });
  });

  it('an unknown, relative or fragment resource at /authorize → invalid_target by redirect', async () => {
    const s = await setup();
    for (const resource of ['https://other.example.com/', 'api', `${API}#frag`, 'https://api.example.com']) {
      const page = await ctx.app.inject({
        url: `/authorize?${new URLSearchParams({
          client_id: s.app.appId,
          redirect_uri: DEFAULT_REDIRECT,
          response_type: 'code',
          scope: 'openid',
          state: 'st',
          resource,
        })}`,
      });
      expect(page.statusCode).toBe(303);
      const loc = new URL(page.headers.location as string);
      expect(loc.searchParams.get('error')).toBe('invalid_target');
      expect(loc.searchParams.get('state')).toBe('st');
    }
  });

  it('an unknown resource at /token → 400 invalid_target, and nothing is spent: the code and the refresh token still work', async () => {
    const s = await setup();
    const { code } = await s.obtain();
    const refused = await exchange(code, s.auth, { resource: 'https://evil.example.com/' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toBe('invalid_target');
    const ok = await exchange(code, s.auth);
    expect(ok.statusCode).toBe(200);
    const rt = ok.json().refresh_token;
    const badRefresh = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: rt, resource: 'urn:nope' }, s.auth);
    expect(badRefresh.json().error).toBe('invalid_target');
    const live = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['rotated_at', 'revoked_at'])
      .where('user_id', '=', s.user.id)
      .execute();
    expect(live).toEqual([{ rotated_at: null, revoked_at: null }]);
    expect((await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: rt }, s.auth)).statusCode).toBe(200);
    const badService = await postForm(ctx, '/token', { grant_type: 'client_credentials', resource: `${API}#x` }, s.auth);
    expect(badService.statusCode).toBe(400);
    expect(badService.json().error).toBe('invalid_target');
  });

  it('an app may register only absolute resource URIs without a fragment', async () => {
    for (const resource of ['api', `${API}#x`, '']) {
      await expect(makeApp(ctx.deps, { resources: [resource] })).rejects.toThrow();
    }
  });
});
