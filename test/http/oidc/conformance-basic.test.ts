// The OpenID Foundation conformance suite's Basic OP modules (oidcc-basic-certification-test-plan)
// that no other test reproduces, one test each, named after the module. Each drives what the module
// drives (authorization request → sign-in → code → /token → ID token and /userinfo) and checks what
// the module checks. docs/CONFORMANCE.md maps every module of the plan to its test.
import { createLocalJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECOND, type FixedClock } from '../../../src/lib/clock.js';
import type { App } from '../../../src/domain/apps/apps.js';
import { ACR_MFA, ACR_PASSWORD } from '../../../src/domain/oidc/auth-context.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, FORM } from '../../helpers/http.js';
import { authorizeQuery, basicAuth, hiddenFieldsOf, obtainCode, pkcePair, postForm } from '../../helpers/oidc.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

const jwks = () => createLocalJWKSet(JSON.parse(ctx.deps.keys.jwksBody));
const authorize = (q: string, cookies: Record<string, string> = {}) =>
  ctx.app.inject({ url: `/authorize?${q}`, headers: { cookie: cookieHeader(cookies) } });
const redirectParams = (res: { headers: Record<string, unknown> }) => new URL(res.headers.location as string).searchParams;

type Client = { app: App; clientSecret: string };
type Person = { email: string; password: string };

async function people(): Promise<{ client: Client; user: { id: string } & Person }> {
  const client = await makeApp(ctx.deps);
  // Roles are per app (issue 14): the user is a member of the client with the role `user`.
  const { user, password } = await makeUser(ctx.deps, { memberOf: { app: client.app, roles: ['user'] } });
  return { client, user: { id: user.id, email: user.email, password } };
}

/** POST /token with client_secret_basic (the plan's default variant); the ID token verified with jose. */
async function exchange(client: Client, code: string, extra: Record<string, string | undefined> = {}) {
  const res = await postForm(
    ctx,
    '/token',
    { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT, ...extra },
    { authorization: basicAuth(client.app.appId, client.clientSecret) },
  );
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  const { payload } = await jwtVerify(body.id_token, jwks(), {
    issuer: ctx.deps.config.issuer,
    audience: client.app.appId,
    algorithms: ['RS256'],
    currentDate: ctx.clock.now(),
  });
  return { ...body, idToken: payload } as {
    access_token: string;
    id_token: string;
    refresh_token?: string;
    scope: string;
    idToken: JWTPayload;
  };
}

/** Signs in on a sign-in page already fetched (keeping the SSO cookies sent with it); returns the code. */
async function signInOn(page: Awaited<ReturnType<typeof authorize>>, user: Person, cookies: Record<string, string> = {}) {
  expect(page.statusCode).toBe(200);
  const jar = { ...cookies, ...cookiesOf(page) };
  const fields = { ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), email: user.email, password: user.password };
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, cookie: cookieHeader(jar) },
    payload: new URLSearchParams(fields).toString(),
  });
  expect(res.statusCode, res.body).toBe(303);
  return redirectParams(res);
}

const userinfo = (token: string) => ctx.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } });

/** What the suite's userinfo checks ask of a 200: JSON, a sub equal to the ID token's (OIDC Core §5.3.2). */
function expectUserinfo(res: Awaited<ReturnType<typeof userinfo>>, idToken: JWTPayload): Record<string, unknown> {
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json();
  expect(body.sub).toBe(idToken.sub);
  return body;
}

describe('Basic OP: ID token and /userinfo', () => {
  it('oidcc-idtoken-signature: RS256, and the kid names a key of the published JWKS', async () => {
    const { client, user } = await people();
    const { code } = await obtainCode(ctx, client.app.appId, user);
    const tokens = await exchange(client, code);
    const { protectedHeader } = await jwtVerify(tokens.id_token, jwks(), { currentDate: ctx.clock.now() });
    expect(protectedHeader.alg).toBe('RS256');
    const kids = JSON.parse(ctx.deps.keys.jwksBody).keys.map((k: { kid: string }) => k.kid);
    expect(kids).toContain(protectedHeader.kid);
  });

  it('oidcc-userinfo-get: GET with the bearer token in the Authorization header', async () => {
    const { client, user } = await people();
    const { code } = await obtainCode(ctx, client.app.appId, user);
    const tokens = await exchange(client, code);
    const body = expectUserinfo(await userinfo(tokens.access_token), tokens.idToken);
    expect(body.email).toBe(user.email);
  });

  it('oidcc-userinfo-post-header: POST with the bearer token in the Authorization header, no body', async () => {
    const { client, user } = await people();
    const { code } = await obtainCode(ctx, client.app.appId, user);
    const tokens = await exchange(client, code);
    const res = await ctx.app.inject({ method: 'POST', url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(expectUserinfo(res, tokens.idToken).email).toBe(user.email);
  });

  it('oidcc-userinfo-post-body: POST with access_token in a form body (RFC 6750 §2.2)', async () => {
    const { client, user } = await people();
    const { code } = await obtainCode(ctx, client.app.appId, user);
    const tokens = await exchange(client, code);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/userinfo',
      headers: FORM,
      payload: new URLSearchParams({ access_token: tokens.access_token }).toString(),
    });
    expect(expectUserinfo(res, tokens.idToken).email).toBe(user.email);
  });

  it('oidcc-ensure-request-without-nonce-succeeds-for-code-flow: no nonce, a code, an ID token without nonce', async () => {
    const { client, user } = await people();
    const { code } = await obtainCode(ctx, client.app.appId, user, { nonce: undefined });
    const tokens = await exchange(client, code);
    expect(tokens.idToken.sub).toBe(user.id);
    expect(tokens.idToken).not.toHaveProperty('nonce');
  });
});

describe('Basic OP: scopes', () => {
  it('oidcc-scope-address and oidcc-scope-phone: not in scopes_supported (the suite skips); asked anyway, ignored', async () => {
    const doc = (await ctx.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(doc.scopes_supported).not.toContain('address');
    expect(doc.scopes_supported).not.toContain('phone');
    for (const scope of ['openid address', 'openid phone']) {
      const { client, user } = await people();
      const { code } = await obtainCode(ctx, client.app.appId, user, { scope });
      const tokens = await exchange(client, code);
      expect(tokens.scope).toBe('openid');
      // openid alone: sub and nothing else about the user (OIDC Core §5.4).
      expect(expectUserinfo(await userinfo(tokens.access_token), tokens.idToken)).toEqual({ sub: user.id });
    }
  });

  it('oidcc-scope-all: openid email phone address profile grants the email and profile claims we hold', async () => {
    const { client, user } = await people();
    const { code } = await obtainCode(ctx, client.app.appId, user, { scope: 'openid email phone address profile' });
    const tokens = await exchange(client, code);
    expect(tokens.scope).toBe('openid email profile');
    const body = expectUserinfo(await userinfo(tokens.access_token), tokens.idToken);
    expect(body).toMatchObject({ email: user.email, email_verified: true, name: 'Test User' });
    expect(typeof body.updated_at).toBe('number');
    expect(body).not.toHaveProperty('address');
    expect(body).not.toHaveProperty('phone_number');
  });

  it('oidcc-alternate-happy-flow (was oidcc-ensure-other-scope-order-succeeds): scope reversed, parameters reordered', async () => {
    const { client, user } = await people();
    const q = new URLSearchParams({
      state: 'st-r',
      scope: 'email openid',
      nonce: 'n-r',
      redirect_uri: DEFAULT_REDIRECT,
      response_type: 'code',
      client_id: client.app.appId,
    }).toString();
    const callback = await signInOn(await authorize(q), user);
    expect(callback.get('state')).toBe('st-r');
    const tokens = await exchange(client, callback.get('code')!);
    expect(tokens.idToken.nonce).toBe('n-r');
    expect(expectUserinfo(await userinfo(tokens.access_token), tokens.idToken)).toMatchObject({ email: user.email, email_verified: true });
  });
});

describe('Basic OP: authorization request parameters', () => {
  for (const display of ['page', 'popup']) {
    it(`oidcc-display-${display}: display=${display} shows the normal sign-in page and completes`, async () => {
      const { client, user } = await people();
      const page = await authorize(authorizeQuery(client.app.appId, { display }));
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('>Sign in</button>');
      const { code } = await obtainCode(ctx, client.app.appId, user, { display });
      expect((await exchange(client, code)).idToken.sub).toBe(user.id);
    });
  }

  it('oidcc-prompt-login: a second authorization with prompt=login asks again; auth_time is later, sub the same', async () => {
    const { client, user } = await people();
    const first = await obtainCode(ctx, client.app.appId, user);
    const t1 = (await exchange(client, first.code)).idToken;
    (ctx.clock as FixedClock).advance(5 * SECOND);
    const page = await authorize(authorizeQuery(client.app.appId, { prompt: 'login' }), first.cookies);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('>Sign in</button>');
    const second = await signInOn(page, user, first.cookies);
    const t2 = (await exchange(client, second.get('code')!)).idToken;
    expect(t2.sub).toBe(t1.sub);
    expect(t2.auth_time).toBe(Number(t1.auth_time) + 5);
  });

  it('oidcc-max-age-10000: signed in under max_age=15000, max_age=10000 gets a code without a page; auth_time kept', async () => {
    const { client, user } = await people();
    const first = await obtainCode(ctx, client.app.appId, user, { max_age: '15000' });
    const t1 = (await exchange(client, first.code)).idToken;
    expect(typeof t1.auth_time).toBe('number'); // OIDC Core §2: required when max_age was asked
    (ctx.clock as FixedClock).advance(30 * SECOND);
    const again = await authorize(authorizeQuery(client.app.appId, { max_age: '10000', state: 'two' }), first.cookies);
    expect(again.statusCode).toBe(303);
    expect(redirectParams(again).get('state')).toBe('two');
    const t2 = (await exchange(client, redirectParams(again).get('code')!)).idToken;
    expect(t2.sub).toBe(t1.sub);
    expect(t2.auth_time).toBe(t1.auth_time);
  });

  it('oidcc-id-token-hint: prompt=none with the first ID token as id_token_hint returns at once; sub and auth_time agree', async () => {
    const { client, user } = await people();
    const first = await obtainCode(ctx, client.app.appId, user);
    const tokens = await exchange(client, first.code);
    (ctx.clock as FixedClock).advance(2 * SECOND);
    const silent = await authorize(
      authorizeQuery(client.app.appId, { prompt: 'none', id_token_hint: tokens.id_token, state: 'hint' }),
      first.cookies,
    );
    expect(silent.statusCode).toBe(303);
    expect(redirectParams(silent).get('error')).toBeNull();
    expect(redirectParams(silent).get('state')).toBe('hint');
    const t2 = (await exchange(client, redirectParams(silent).get('code')!)).idToken;
    expect(t2.sub).toBe(tokens.idToken.sub);
    expect(t2.auth_time).toBe(tokens.idToken.auth_time);
  });

  it('oidcc-login-hint: the hint pre-fills the email field, escaped; signing in as that user completes', async () => {
    const { client, user } = await people();
    const page = await authorize(authorizeQuery(client.app.appId, { login_hint: user.email }));
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(new RegExp(`id="email"[^>]*value="${user.email.replace(/\./g, '\\.')}"`));
    const hostile = await authorize(authorizeQuery(client.app.appId, { login_hint: '"><script>alert(1)</script>' }));
    expect(hostile.statusCode).toBe(200);
    expect(hostile.body).not.toContain('<script>alert(1)</script>');
    expect(hostile.body).toContain('value="&quot;&gt;&lt;script&gt;');
    const tooLong = await authorize(authorizeQuery(client.app.appId, { login_hint: `${'a'.repeat(320)}@example.com` }));
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.headers.location).toBeUndefined();
    const { code } = await obtainCode(ctx, client.app.appId, user, { login_hint: user.email });
    expect((await exchange(client, code)).idToken.sub).toBe(user.id);
  });

  it('oidcc-ui-locales and oidcc-claims-locales: accepted without error (OIDC Core §3.1.2.1, §5.2)', async () => {
    for (const extra of [{ ui_locales: 'se' }, { claims_locales: 'se' }]) {
      const { client, user } = await people();
      const { code } = await obtainCode(ctx, client.app.appId, user, extra);
      expect((await exchange(client, code)).idToken.sub).toBe(user.id);
    }
  });

  it('oidcc-ensure-request-with-acr-values-succeeds: acr_values=1 2 succeeds; the ID token carries the actual acr and amr ["pwd"]', async () => {
    const { client, user } = await people();
    // Neither value can be satisfied: acr is a voluntary claim (OIDC Core §3.1.2.1), so the request
    // still succeeds and the ID token says what the sign-in actually was.
    const { code, cookies } = await obtainCode(ctx, client.app.appId, user, { acr_values: '1 2' });
    const tokens = await exchange(client, code);
    expect(tokens.idToken).toMatchObject({ sub: user.id, acr: ACR_PASSWORD, amr: ['pwd'] });
    // The access token says the same (RFC 9068 §2.2.3).
    expect(decodeJwt(tokens.access_token)).toMatchObject({ acr: ACR_PASSWORD, amr: ['pwd'] });
    const doc = (await ctx.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(doc.acr_values_supported).toEqual([ACR_PASSWORD, ACR_MFA]);
    expect(doc.claims_supported).toEqual(expect.arrayContaining(['acr', 'amr']));

    // Through the SSO session (no new sign-in), the session's record of how the user signed in.
    const sso = await authorize(authorizeQuery(client.app.appId, { acr_values: ACR_PASSWORD }), cookies);
    expect(sso.statusCode).toBe(303);
    const again = await exchange(client, redirectParams(sso).get('code')!);
    expect(again.idToken).toMatchObject({ acr: ACR_PASSWORD, amr: ['pwd'], auth_time: tokens.idToken.auth_time });

    // A session from before migration 0018 (amr NULL: unknown): both claims omitted, never guessed.
    await ctx.deps.db.updateTable('sessions').set({ amr: null }).where('user_id', '=', user.id).execute();
    const unknown = await authorize(authorizeQuery(client.app.appId), cookies);
    const third = await exchange(client, redirectParams(unknown).get('code')!);
    expect(third.idToken.sub).toBe(user.id);
    expect(third.idToken).not.toHaveProperty('acr');
    expect(third.idToken).not.toHaveProperty('amr');
    expect(decodeJwt(third.access_token)).not.toHaveProperty('amr');
  });

  it('oidcc-ensure-post-request-succeeds: the authorization request as a form POST completes', async () => {
    const { client, user } = await people();
    const page = await ctx.app.inject({ method: 'POST', url: '/authorize', headers: FORM, payload: authorizeQuery(client.app.appId) });
    const callback = await signInOn(page, user);
    expect(callback.get('state')).toBe('st-1');
    expect((await exchange(client, callback.get('code')!)).idToken.sub).toBe(user.id);
  });

  it('oidcc-ensure-request-with-valid-pkce-succeeds: S256 challenge, verifier at /token', async () => {
    const { client, user } = await people();
    const pkce = pkcePair();
    const { code } = await obtainCode(ctx, client.app.appId, user, { code_challenge: pkce.challenge, code_challenge_method: 'S256' });
    const tokens = await exchange(client, code, { code_verifier: pkce.verifier });
    expect(expectUserinfo(await userinfo(tokens.access_token), tokens.idToken).email).toBe(user.email);
  });
});

describe('Basic OP: refresh tokens', () => {
  it('oidcc-refresh-token: offline_access with prompt=consent (OIDC Core §11) gets a refresh token that refreshes', async () => {
    const { client, user } = await people();
    const { code } = await obtainCode(ctx, client.app.appId, user, { scope: 'openid offline_access', prompt: 'consent' });
    const first = await exchange(client, code);
    const refreshToken = first.refresh_token!;
    expect(refreshToken).toMatch(/^[\x20-\x7E]+$/); // RFC 6749 Appendix A.17: VSCHAR only
    const res = await postForm(
      ctx,
      '/token',
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      { authorization: basicAuth(client.app.appId, client.clientSecret) },
    );
    expect(res.statusCode).toBe(200);
    expect(decodeJwt(res.json().id_token)).toMatchObject({ sub: user.id, aud: client.app.appId, auth_time: first.idToken.auth_time });
    expect(res.json().refresh_token).not.toBe(refreshToken);
  });
});

describe('Basic OP: client authentication and request objects', () => {
  it('oidcc-server-client-secret-post: the whole flow with client_id and client_secret in the /token body', async () => {
    const { client, user } = await people();
    const { code } = await obtainCode(ctx, client.app.appId, user);
    const res = await postForm(ctx, '/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: DEFAULT_REDIRECT,
      client_id: client.app.appId,
      client_secret: client.clientSecret,
    });
    expect(res.statusCode).toBe(200);
    const { payload } = await jwtVerify(res.json().id_token, jwks(), {
      issuer: ctx.deps.config.issuer,
      audience: client.app.appId,
      currentDate: ctx.clock.now(),
    });
    expect(payload).toMatchObject({ sub: user.id, nonce: 'n-1' });
    expect(expectUserinfo(await userinfo(res.json().access_token), payload).sub).toBe(user.id);
  });

  it('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: request_not_supported by redirect', async () => {
    const { client } = await people();
    const requestObject = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ client_id: client.app.appId, scope: 'openid', response_type: 'code', redirect_uri: DEFAULT_REDIRECT }),
    ).toString('base64url')}.`;
    const res = await authorize(authorizeQuery(client.app.appId, { request: requestObject }));
    expect(res.statusCode).toBe(303);
    expect(redirectParams(res).get('error')).toBe('request_not_supported'); // OIDC Core §3.1.2.6
    expect(redirectParams(res).get('state')).toBe('st-1');
    const doc = (await ctx.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(doc.request_parameter_supported).toBe(false);
  });

  it('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported: request_uri_not_supported', async () => {
    const { client } = await people();
    const res = await authorize(authorizeQuery(client.app.appId, { request_uri: 'https://rp.example.com/request.jwt' }));
    expect(res.statusCode).toBe(303);
    expect(redirectParams(res).get('error')).toBe('request_uri_not_supported');
  });

  it('oidcc-ensure-request-object-with-redirect-uri: an invalid outer redirect_uri is an error page, never a redirect', async () => {
    const { client } = await people();
    const requestObject = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ client_id: client.app.appId, redirect_uri: DEFAULT_REDIRECT }),
    ).toString('base64url')}.`;
    const res = await authorize(
      authorizeQuery(client.app.appId, { request: requestObject, redirect_uri: 'https://rp.example.com/not-registered' }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toContain('redirect_uri is not registered');
  });

  it('oidcc-claims-essential: name requested as essential with scope openid is returned', async () => {
    const { client, user } = await people();
    const claims = JSON.stringify({ userinfo: { name: { essential: true } } });
    const { code } = await obtainCode(ctx, client.app.appId, user, { scope: 'openid', claims });
    const tokens = await exchange(client, code);
    const body = expectUserinfo(await userinfo(tokens.access_token), tokens.idToken);
    // Only what was asked for on top of scope openid: name, not email or roles; and at /userinfo only.
    expect(body).toEqual({ sub: user.id, name: 'Test User' });
    expect(tokens.idToken).not.toHaveProperty('name');
    const doc = (await ctx.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(doc.claims_parameter_supported).toBe(true);
  });

  it('OIDC Core §5.5: id_token and userinfo members, value/values accepted, unknown claims ignored, the current value at /userinfo', async () => {
    const { client, user } = await people();
    const claims = JSON.stringify({
      id_token: { email: { essential: true }, email_verified: null, shoe_size: { essential: true }, updated_at: null },
      userinfo: { roles: { values: ['editor', 'admin'] }, name: { value: 'Someone Else' } },
    });
    const { code } = await obtainCode(ctx, client.app.appId, user, { scope: 'openid', claims });
    const tokens = await exchange(client, code);
    expect(tokens.idToken).toMatchObject({ email: user.email, email_verified: true });
    expect(tokens.idToken).toHaveProperty('updated_at');
    expect(tokens.idToken).not.toHaveProperty('shoe_size');
    expect(tokens.idToken).not.toHaveProperty('roles');
    // `value` is a request, not a filter: the user's own name comes back.
    await ctx.deps.db.updateTable('users').set({ name: 'Renamed User' }).where('id', '=', user.id).execute();
    const body = expectUserinfo(await userinfo(tokens.access_token), tokens.idToken);
    expect(body).toEqual({ sub: user.id, name: 'Renamed User', roles: ['user'] });
  });

  it('OIDC Core §5.5: a claim whose scope the app may not have is not granted by the claims parameter', async () => {
    const client = await makeApp(ctx.deps, { allowedScopes: ['openid', 'profile'] });
    const { user, password } = await makeUser(ctx.deps);
    const claims = JSON.stringify({ userinfo: { email: { essential: true }, name: null }, id_token: { roles: null } });
    const { code } = await obtainCode(ctx, client.app.appId, { email: user.email, password }, { scope: 'openid', claims });
    const tokens = await exchange(client, code);
    expect(expectUserinfo(await userinfo(tokens.access_token), tokens.idToken)).toEqual({ sub: user.id, name: 'Test User' });
    expect(tokens.idToken).not.toHaveProperty('roles');
    expect(decodeJwt(tokens.access_token)).not.toHaveProperty('email');
  });

  it('OIDC Core §5.5: a claims parameter that is not JSON of its shape is invalid_request by redirect, no code', async () => {
    const { client } = await people();
    for (const claims of [
      '{not json',
      '[]',
      JSON.stringify({ userinfo: { name: { essential: 'yes' } } }),
      JSON.stringify({ id_token: 3 }),
    ]) {
      const res = await authorize(authorizeQuery(client.app.appId, { claims }));
      expect(res.statusCode, claims).toBe(303);
      const params = redirectParams(res);
      expect(params.get('error')).toBe('invalid_request');
      expect(params.get('state')).toBe('st-1');
      expect(params.get('code')).toBeNull();
    }
  });
});
