// RP-Initiated Logout 1.0 (/end_session) and discovery, named after the conformance suite's modules.
import { UnsecuredJWT, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_LOGOUT, DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, FORM } from '../../helpers/http.js';
import { decodeParts, rs256WithAttackerKey } from '../../helpers/forge.js';
import { authorizeQuery, basicAuth, hiddenFieldsOf, obtainCode, postForm } from '../../helpers/oidc.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

async function signedIn() {
  const { app, clientSecret } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps);
  const { code, cookies } = await obtainCode(ctx, app.appId, { email: user.email, password }, { scope: 'openid' });
  const tokens = (
    await postForm(
      ctx,
      '/token',
      { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT },
      { authorization: basicAuth(app.appId, clientSecret) },
    )
  ).json();
  const sid = decodeJwt(tokens.id_token).sid as string;
  return { app, user, cookies, idToken: tokens.id_token as string, sid };
}

const endSession = (params: Record<string, string>, cookies: Record<string, string>) =>
  ctx.app.inject({ url: `/end_session?${new URLSearchParams(params)}`, headers: { cookie: cookieHeader(cookies) } });
const sessionRevoked = async (sid: string) =>
  (await ctx.deps.db.selectFrom('sessions').select('revoked_at').where('id', '=', sid).executeTakeFirstOrThrow()).revoked_at !== null;

describe('/end_session', () => {
  it('oidcc-rp-initiated-logout: a valid hint ends the session and redirects to the registered URI with state', async () => {
    const s = await signedIn();
    const res = await endSession({ id_token_hint: s.idToken, post_logout_redirect_uri: DEFAULT_LOGOUT, state: 'xyz' }, s.cookies);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`${DEFAULT_LOGOUT}?state=xyz`);
    expect(await sessionRevoked(s.sid)).toBe(true);
    expect(cookiesOf(res).km_sso).toBe('');
  });

  it('oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: an error page, no redirect, session kept', async () => {
    const s = await signedIn();
    for (const uri of ['https://evil.example/out', `${DEFAULT_LOGOUT}/x`, DEFAULT_REDIRECT]) {
      const res = await endSession({ id_token_hint: s.idToken, post_logout_redirect_uri: uri }, s.cookies);
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
    expect(await sessionRevoked(s.sid)).toBe(false);
  });

  it('oidcc-rp-initiated-logout-modified-id-token-hint and alg none: never a redirect, session kept', async () => {
    const s = await signedIn();
    const [h, p, sig] = s.idToken.split('.');
    const tamperedPayload = Buffer.from(JSON.stringify({ ...decodeJwt(s.idToken), sub: 'someone-else' })).toString('base64url');
    const modified = `${h}.${tamperedPayload}.${sig}`;
    const kid = JSON.parse(ctx.deps.keys.jwksBody).keys[0].kid;
    const none = new UnsecuredJWT(decodeJwt(s.idToken))
      .encode()
      .replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'none', kid })).toString('base64url'));
    for (const hint of [modified, none, `${h}.${p}.`, 'not-a-jwt']) {
      const res = await endSession({ id_token_hint: hint, post_logout_redirect_uri: DEFAULT_LOGOUT }, s.cookies);
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
    expect(await sessionRevoked(s.sid)).toBe(false);
  });

  it('oidcc-rp-initiated-logout-no-id-token-hint: client_id alone asks the user first, then signs out and redirects', async () => {
    const s = await signedIn();
    const res = await endSession({ client_id: s.app.appId, post_logout_redirect_uri: DEFAULT_LOGOUT, state: 's' }, s.cookies);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('action="/end_session"');
    expect(await sessionRevoked(s.sid)).toBe(false);
    const fields = { ...hiddenFieldsOf(res.body), _csrf: csrfTokenOf(res.body) };
    const post = await ctx.app.inject({
      method: 'POST',
      url: '/end_session',
      headers: { ...FORM, cookie: cookieHeader({ ...s.cookies, ...cookiesOf(res) }) },
      payload: new URLSearchParams(fields).toString(),
    });
    expect(post.statusCode).toBe(303);
    expect(post.headers.location).toBe(`${DEFAULT_LOGOUT}?state=s`);
    expect(await sessionRevoked(s.sid)).toBe(true);
  });

  it('oidcc-rp-initiated-logout-no-post-logout-redirect-uri: the signed-out page', async () => {
    const s = await signedIn();
    const res = await endSession({ id_token_hint: s.idToken }, s.cookies);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('You have been signed out');
    expect(await sessionRevoked(s.sid)).toBe(true);
  });

  it('oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri: ?foo=bar added is an error page; session kept', async () => {
    const s = await signedIn();
    const res = await endSession(
      { id_token_hint: s.idToken, post_logout_redirect_uri: `${DEFAULT_LOGOUT}?foo=bar`, state: 'q' },
      s.cookies,
    );
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(await sessionRevoked(s.sid)).toBe(false);
  });

  it('a registered post_logout_redirect_uri with a query keeps it and gains state; a client_id mismatch is refused', async () => {
    const { app } = await makeApp(ctx.deps, { postLogoutRedirectUris: ['https://app.example.com/out?from=km'] });
    const ok = await endSession({ client_id: app.appId, post_logout_redirect_uri: 'https://app.example.com/out?from=km', state: 'a' }, {});
    expect(ok.headers.location).toBe('https://app.example.com/out?from=km&state=a');
    const s = await signedIn();
    const mismatch = await endSession(
      { id_token_hint: s.idToken, client_id: app.appId, post_logout_redirect_uri: DEFAULT_LOGOUT },
      s.cookies,
    );
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.headers.location).toBeUndefined();
  });

  /** Answers the confirmation page as the user would (its hidden fields, CSRF token and cookies). */
  const confirm = async (page: Awaited<ReturnType<typeof endSession>>, cookies: Record<string, string>) =>
    ctx.app.inject({
      method: 'POST',
      url: '/end_session',
      headers: { ...FORM, cookie: cookieHeader({ ...cookies, ...cookiesOf(page) }) },
      payload: new URLSearchParams({ ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body) }).toString(),
    });

  it('oidcc-rp-initiated-logout-no-params: the user confirms, is signed out and sees the signed-out page', async () => {
    const s = await signedIn();
    const page = await endSession({}, s.cookies);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('action="/end_session"');
    expect(await sessionRevoked(s.sid)).toBe(false);
    const done = await confirm(page, s.cookies);
    expect(done.statusCode).toBe(200);
    expect(done.headers.location).toBeUndefined();
    expect(done.body).toContain('You have been signed out');
    expect(await sessionRevoked(s.sid)).toBe(true);
  });

  it('oidcc-rp-initiated-logout-only-state: state alone is no redirect target; confirmed, the signed-out page', async () => {
    const s = await signedIn();
    const page = await endSession({ state: 'only' }, s.cookies);
    expect(page.statusCode).toBe(200);
    const done = await confirm(page, s.cookies);
    expect(done.statusCode).toBe(200);
    expect(done.headers.location).toBeUndefined();
    expect(done.body).toContain('You have been signed out');
    expect(await sessionRevoked(s.sid)).toBe(true);
  });

  it('oidcc-rp-initiated-logout-no-state: redirect without state; prompt=none afterwards is login_required', async () => {
    const s = await signedIn();
    const res = await endSession({ id_token_hint: s.idToken, post_logout_redirect_uri: DEFAULT_LOGOUT }, s.cookies);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(DEFAULT_LOGOUT);
    expect(await sessionRevoked(s.sid)).toBe(true);
    const after = await ctx.app.inject({
      url: `/authorize?${authorizeQuery(s.app.appId, { prompt: 'none' })}`,
      headers: { cookie: cookieHeader({ ...s.cookies, ...cookiesOf(res) }) },
    });
    expect(after.statusCode).toBe(303);
    expect(new URL(after.headers.location as string).searchParams.get('error')).toBe('login_required');
  });

  it('oidcc-rp-initiated-logout-bad-id-token-hint: a hint signed with another key is an error page; session kept', async () => {
    const s = await signedIn();
    const { header, payload } = decodeParts(s.idToken);
    for (const kid of [header.kid, 'rp-test-suite-key']) {
      const foreign = rs256WithAttackerKey({ ...header, kid }, payload);
      const res = await endSession({ id_token_hint: foreign, post_logout_redirect_uri: DEFAULT_LOGOUT, state: 'x' }, s.cookies);
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
    expect(await sessionRevoked(s.sid)).toBe(false);
  });

  it("a POST with the RP's parameters works like GET", async () => {
    const s = await signedIn();
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/end_session',
      headers: { ...FORM, cookie: cookieHeader(s.cookies) },
      payload: new URLSearchParams({ id_token_hint: s.idToken, post_logout_redirect_uri: DEFAULT_LOGOUT }).toString(),
    });
    expect(res.statusCode).toBe(303);
    expect(await sessionRevoked(s.sid)).toBe(true);
  });
});

describe('discovery (oidcc-server, Config OP)', () => {
  it('lists every endpoint and supported value; issuer byte-equal to KEYMASTER_ISSUER; both documents agree', async () => {
    const res = await ctx.app.inject({ url: '/.well-known/openid-configuration' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.headers['cache-control']).toMatch(/max-age=\d+/);
    const doc = res.json();
    const iss = ctx.deps.config.issuer;
    expect(doc.issuer).toBe(iss);
    expect(doc).toMatchObject({
      authorization_endpoint: `${iss}/authorize`,
      token_endpoint: `${iss}/token`,
      userinfo_endpoint: `${iss}/userinfo`,
      jwks_uri: `${iss}/.well-known/jwks.json`,
      revocation_endpoint: `${iss}/revoke`,
      introspection_endpoint: `${iss}/introspect`,
      end_session_endpoint: `${iss}/end_session`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      request_uri_parameter_supported: false,
    });
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access', 'roles']));
    expect(doc.grant_types_supported).toEqual([
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:device_code',
    ]);
    expect(doc.device_authorization_endpoint).toBe(`${iss}/device_authorization`);
    expect(doc.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
    expect(doc.pushed_authorization_request_endpoint).toBe(`${iss}/par`);
    // Every advertised endpoint answers (not 404).
    for (const key of [
      'authorization_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'revocation_endpoint',
      'introspection_endpoint',
      'end_session_endpoint',
      'pushed_authorization_request_endpoint',
      'device_authorization_endpoint',
    ]) {
      const path = new URL(doc[key]).pathname;
      const r = await ctx.app.inject({ method: key.match(/token|revocation|introspection|pushed|device/) ? 'POST' : 'GET', url: path });
      expect(r.statusCode, key).not.toBe(404);
    }
    const rfc8414 = await ctx.app.inject({ url: '/.well-known/oauth-authorization-server' });
    expect(rfc8414.json()).toEqual(doc);
  });

  // Metadata names registered for OAuth authorization servers and OpenID providers (RFC 8414 §2, OIDC
  // Discovery §3, RP-Initiated and Back-Channel Logout, RFC 9207): the suite warns about any other.
  const REGISTERED_METADATA = new Set([
    ...['issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'registration_endpoint'],
    ...['scopes_supported', 'response_types_supported', 'response_modes_supported', 'grant_types_supported', 'acr_values_supported'],
    ...['subject_types_supported', 'id_token_signing_alg_values_supported', 'token_endpoint_auth_methods_supported'],
    ...['revocation_endpoint', 'revocation_endpoint_auth_methods_supported', 'introspection_endpoint'],
    ...['introspection_endpoint_auth_methods_supported', 'code_challenge_methods_supported', 'claims_supported'],
    ...['claims_parameter_supported', 'request_parameter_supported', 'request_uri_parameter_supported', 'prompt_values_supported'],
    ...['end_session_endpoint', 'backchannel_logout_supported', 'backchannel_logout_session_supported'],
    ...['authorization_response_iss_parameter_supported', 'service_documentation', 'ui_locales_supported'],
    ...['token_endpoint_auth_signing_alg_values_supported', 'revocation_endpoint_auth_signing_alg_values_supported'],
    ...['introspection_endpoint_auth_signing_alg_values_supported'],
    // RFC 9126 §5.
    ...['pushed_authorization_request_endpoint', 'require_pushed_authorization_requests'],
    // RFC 8628 §4.
    'device_authorization_endpoint',
  ]);

  describe('at an https issuer', () => {
    let https: TestContext;
    beforeAll(async () => {
      https = await createTestContext({ env: { KEYMASTER_ISSUER: 'https://id.example.com' } });
    });
    afterAll(() => https.close());

    it('oidcc-discovery-endpoint-verification (Config OP): JSON, https endpoints, registered names only, usable JWKS', async () => {
      const res = await https.app.inject({ url: '/.well-known/openid-configuration' });
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const doc = res.json();
      expect(doc.issuer).toBe('https://id.example.com');
      const iss = new URL(doc.issuer);
      expect(iss.protocol).toBe('https:');
      expect(iss.search + iss.hash).toBe('');
      for (const [key, value] of Object.entries(doc)) {
        expect(REGISTERED_METADATA.has(key), key).toBe(true);
        if (key.endsWith('_endpoint') || key === 'jwks_uri') expect(new URL(value as string).protocol, key).toBe('https:');
      }
      expect(doc.response_types_supported).toContain('code');
      expect(doc.subject_types_supported).toContain('public');
      expect(doc.id_token_signing_alg_values_supported).toContain('RS256');
      expect(doc.grant_types_supported).toContain('authorization_code');
      expect(doc.scopes_supported).toContain('openid');
      for (const scope of doc.scopes_supported) expect(scope).toMatch(/^[\x21\x23-\x5B\x5D-\x7E]+$/); // RFC 6749 §3.3
      expect(Array.isArray(doc.code_challenge_methods_supported)).toBe(true);
      expect(doc.claims_supported).toEqual(expect.arrayContaining(['sub', 'iss', 'aud', 'exp', 'iat']));
      expect(doc.claims_parameter_supported).toBe(true); // OIDC Core §5.5 (claims-request.ts)
      expect(doc.acr_values_supported).toEqual(['urn:keymaster:acr:pwd', 'urn:keymaster:acr:mfa']);
      expect(doc.request_parameter_supported).toBe(false);
      const keys = (await https.app.inject({ url: new URL(doc.jwks_uri).pathname })).json().keys;
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) {
        expect(k).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
        expect(typeof k.kid).toBe('string');
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k).not.toHaveProperty(secret);
      }
      expect(new Set(keys.map((k: { kid: string }) => k.kid)).size).toBe(keys.length);
    });

    it('oidcc-rp-initiated-logout-discovery-endpoint-verification: an https end_session_endpoint', async () => {
      const doc = (await https.app.inject({ url: '/.well-known/openid-configuration' })).json();
      expect(doc.end_session_endpoint).toBe('https://id.example.com/end_session');
    });
  });

  it('uses the configured issuer byte for byte (e.g. a path-less https issuer)', async () => {
    const other = await createTestContext({ env: { KEYMASTER_ISSUER: 'https://id.example.com' } });
    try {
      const doc = (await other.app.inject({ url: '/.well-known/openid-configuration' })).json();
      expect(doc.issuer).toBe('https://id.example.com');
      expect(doc.token_endpoint).toBe('https://id.example.com/token');
    } finally {
      await other.close();
    }
  });
});
